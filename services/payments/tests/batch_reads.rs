//! ListMyOpenCollections, the batch read behind Home's AA part: the open collections I
//! organise or am asked to pay in, with the bill's title and what I still owe, in one call;
//! exactly what GetCollection shows each of them; bounded; kept by a projection that a
//! rebuild gives back unchanged.

mod common;

use common::{TestApp, User, authed, equal_bill, key};
use tonic::Code;
use tuan_proto::{common::v1::PageRequest, payments::v1 as pb};

async fn collect(app: &mut TestApp, organiser: &User, title: &str, total: &str, with: &[&User]) -> pb::Collection {
    let request = equal_bill(title, total, with, &key());
    let bill = app.client.create_bill(authed(&organiser.token, request)).await.expect("bill").into_inner();
    let open = pb::OpenCollectionRequest { bill_id: bill.bill_id };
    app.client.open_collection(authed(&organiser.token, open)).await.expect("open collection").into_inner()
}

async fn mine(app: &mut TestApp, user: &User, limit: u32, cursor: &str) -> pb::ListMyOpenCollectionsResponse {
    let request = pb::ListMyOpenCollectionsRequest { page: Some(PageRequest { limit, cursor: cursor.into() }) };
    app.client.list_my_open_collections(authed(&user.token, request)).await.expect("my open collections").into_inner()
}

async fn single(app: &mut TestApp, user: &User, id: &str) -> pb::Collection {
    let request = pb::GetCollectionRequest { collection_id: id.into() };
    app.client.get_collection(authed(&user.token, request)).await.expect("get collection").into_inner()
}

/// (bill title, collection id, what I owe) of each listed collection.
fn summary(list: &pb::ListMyOpenCollectionsResponse) -> Vec<(String, String, String)> {
    list.collections
        .iter()
        .map(|c| (c.bill_title.clone(), c.collection.as_ref().unwrap().collection_id.clone(), c.i_owe.clone()))
        .collect()
}

#[tokio::test]
async fn my_open_collections_with_what_i_owe_and_nobody_elses() {
    let mut app = TestApp::spawn().await;
    let (a, b, c, stranger) = (app.user(), app.user(), app.user(), app.user());
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    app.befriend(&b, &c).await;
    app.fund(&b, "100.00").await;

    let dinner = collect(&mut app, &a, "dinner", "100.00", &[&a, &b, &c]).await;
    let taxi = collect(&mut app, &c, "taxi", "30.00", &[&c, &b]).await;
    let movie = collect(&mut app, &a, "movie", "20.00", &[&a, &b]).await;
    let close = pb::CloseCollectionRequest { collection_id: movie.collection_id.clone() };
    app.client.close_collection(authed(&a.token, close)).await.expect("close");
    // A bill without a collection is no collection.
    app.client.create_bill(authed(&a.token, equal_bill("lunch", "10.00", &[&a, &b], &key()))).await.unwrap();

    let row =
        |title: &str, c: &pb::Collection, owe: &str| (title.to_string(), c.collection_id.clone(), owe.to_string());
    let of_b = mine(&mut app, &b, 0, "").await;
    assert_eq!(summary(&of_b), [row("taxi", &taxi, "15.00"), row("dinner", &dinner, "33.33")], "newest first");
    for listed in &of_b.collections {
        let collection = listed.collection.clone().unwrap();
        assert_eq!(collection, single(&mut app, &b, &collection.collection_id).await, "as GetCollection shows it");
    }
    let of_a = mine(&mut app, &a, 0, "").await;
    assert_eq!(summary(&of_a), [row("dinner", &dinner, "")], "the organiser owes nothing; closed ones are gone");
    assert!(mine(&mut app, &stranger, 0, "").await.collections.is_empty());

    // Paying and reminding show at once; paid, I owe nothing but the collection stays open.
    let pay = pb::PayCollectionRequest { collection_id: dinner.collection_id.clone(), idempotency_key: key() };
    app.client.pay_collection(authed(&b.token, pay)).await.expect("pay");
    let remind = pb::RemindCollectionRequest { collection_id: dinner.collection_id.clone() };
    app.client.remind_collection(authed(&a.token, remind)).await.expect("remind");
    let of_b = mine(&mut app, &b, 0, "").await;
    assert_eq!(summary(&of_b)[1], row("dinner", &dinner, ""));
    let of_a = mine(&mut app, &a, 0, "").await;
    let listed = of_a.collections[0].collection.clone().unwrap();
    assert_eq!(listed, single(&mut app, &a, &dinner.collection_id).await);
    assert_eq!(listed.entries.iter().map(|e| (e.paid, e.reminders)).collect::<Vec<_>>(), [(true, 0), (false, 1)]);

    // One page at a time.
    let first = mine(&mut app, &b, 1, "").await;
    assert_eq!(summary(&first), [row("taxi", &taxi, "15.00")]);
    let second = mine(&mut app, &b, 1, &first.next_cursor).await;
    assert_eq!(summary(&second), [row("dinner", &dinner, "")]);
    assert!(second.next_cursor.is_empty());

    // The projection is what a rebuild from the events gives.
    let before = (mine(&mut app, &a, 0, "").await, mine(&mut app, &b, 0, "").await);
    let store = tuan_eventstore::EventStore::new(app.db.pool.clone());
    tuan_eventstore::rebuild_projections(&store, &payments::startup::projections()).await.expect("rebuild");
    assert_eq!((mine(&mut app, &a, 0, "").await, mine(&mut app, &b, 0, "").await), before);
    app.stop().await;
}

#[tokio::test]
async fn list_my_open_collections_is_bounded() {
    let mut app = TestApp::spawn().await;
    let user = app.user();
    for (limit, cursor) in [(201, ""), (10, "not a cursor")] {
        let request = pb::ListMyOpenCollectionsRequest { page: Some(PageRequest { limit, cursor: cursor.into() }) };
        let status = app.client.list_my_open_collections(authed(&user.token, request)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "limit {limit}, cursor {cursor:?}: {}", status.message());
    }
    assert!(mine(&mut app, &user, 200, "").await.collections.is_empty());
    app.stop().await;
}
