//! A merchant's own campaigns (ListMyCampaigns): every status, newest first, paged, from the
//! campaigns projection; nobody else's.

mod common;

use common::{TestApp, team_mode, tipping_mode};
use tonic::Code;
use tuan_proto::{common::v1::PageRequest, groupbuy::v1 as pb};
use uuid::Uuid;

async fn my_campaigns(app: &mut TestApp, user: Uuid, limit: u32, cursor: &str) -> pb::ListCampaignsResponse {
    let page = Some(PageRequest { limit, cursor: cursor.into() });
    app.client.list_my_campaigns(app.as_user(user, pb::ListMyCampaignsRequest { page })).await.unwrap().into_inner()
}

#[tokio::test]
async fn a_merchant_lists_its_own_campaigns_in_every_status_newest_first_page_by_page() {
    let mut app = TestApp::spawn().await;
    let (merchant, other) = (app.merchant().await, app.merchant().await);
    let first = app.launch(merchant, 10, team_mode(2, 3600)).await;
    let second = app.launch(merchant, 5, tipping_mode(2)).await;
    let third = app.launch(merchant, 20, team_mode(3, 3600)).await;
    let theirs = app.launch(other, 10, team_mode(2, 3600)).await;
    let r = |c: &pb::Campaign| pb::CampaignRef { campaign_id: c.campaign_id.clone() };
    app.client.end_campaign(app.as_user(merchant, r(&first))).await.unwrap();
    app.client.pause_campaign(app.as_user(merchant, r(&second))).await.unwrap();

    // Two pages of two: newest first, ended and paused ones too, nothing of the other merchant's.
    let page1 = my_campaigns(&mut app, merchant, 2, "").await;
    let ids: Vec<&str> = page1.campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(ids, [third.campaign_id.as_str(), second.campaign_id.as_str()]);
    assert!(!page1.next_cursor.is_empty());
    let page2 = my_campaigns(&mut app, merchant, 2, &page1.next_cursor).await;
    let ids: Vec<&str> = page2.campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(ids, [first.campaign_id.as_str()]);
    assert_eq!(page2.next_cursor, "", "the last page");

    // What the list says is what GetCampaign says.
    let all = my_campaigns(&mut app, merchant, 0, "").await;
    let statuses: Vec<i32> = all.campaigns.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [pb::CampaignStatus::Active as i32, pb::CampaignStatus::Paused as i32, pb::CampaignStatus::Ended as i32]
    );
    for listed in &all.campaigns {
        let got = app.client.get_campaign(app.as_user(merchant, r(listed))).await.unwrap().into_inner();
        assert_eq!(&got, listed);
    }
    assert_eq!(
        (all.campaigns[0].stock_left, all.campaigns[0].merchant_id.as_str()),
        (20, merchant.to_string().as_str())
    );

    // Everyone sees only their own: the other merchant its one, a buyer none.
    let other_list = my_campaigns(&mut app, other, 0, "").await;
    assert_eq!(other_list.campaigns.len(), 1);
    assert_eq!(other_list.campaigns[0].campaign_id, theirs.campaign_id);
    assert!(my_campaigns(&mut app, Uuid::now_v7(), 0, "").await.campaigns.is_empty());

    // A cursor that did not come from the service is refused as such.
    let page = Some(PageRequest { limit: 2, cursor: "garbage".into() });
    let refused =
        app.client.list_my_campaigns(app.as_user(merchant, pb::ListMyCampaignsRequest { page })).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{}", refused.message());
    app.stop().await;
}
