//! Read models and progress to protobuf, and cursors back.

use tuan_proto::groupbuy::v1 as pb;
use tuan_runtime::{ApiError, grpc::parse_uuid, paging::bad_cursor};
use uuid::Uuid;

use crate::{
    app::{
        JoinHistory, JoinView, TeamView,
        progress::{CampaignProgress, TeamProgress},
    },
    domain::{
        campaign::{CampaignStatus, ModeKind, Tipping},
        join::JoinStatus,
        team::{MemberStatus, TeamStatus},
    },
    store::queries::{CampaignRow, JoinRow, StatsRow},
};

pub fn cursor(c: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    c.map(|c| parse_uuid("cursor", c).map_err(|_| bad_cursor())).transpose()
}

fn campaign_status(s: CampaignStatus) -> pb::CampaignStatus {
    match s {
        CampaignStatus::None => pb::CampaignStatus::Unspecified,
        CampaignStatus::Active => pb::CampaignStatus::Active,
        CampaignStatus::Paused => pb::CampaignStatus::Paused,
        CampaignStatus::Ended => pb::CampaignStatus::Ended,
    }
}

fn tipping(t: Tipping) -> pb::TippingState {
    match t {
        Tipping::NotTipping => pb::TippingState::None,
        Tipping::Pending => pb::TippingState::Pending,
        Tipping::Tipped => pb::TippingState::Tipped,
        Tipping::Failed => pb::TippingState::Failed,
    }
}

fn mode(m: ModeKind) -> pb::CampaignMode {
    match m {
        ModeKind::Team => pb::CampaignMode::Team,
        ModeKind::Tipping => pb::CampaignMode::Tipping,
    }
}

fn team_status(s: TeamStatus) -> pb::TeamStatus {
    match s {
        TeamStatus::None => pb::TeamStatus::Unspecified,
        TeamStatus::Pending => pb::TeamStatus::Pending,
        TeamStatus::Open => pb::TeamStatus::Open,
        TeamStatus::Completed => pb::TeamStatus::Completed,
        TeamStatus::Expired => pb::TeamStatus::Expired,
        TeamStatus::Failed => pb::TeamStatus::Failed,
    }
}

fn join_status(s: JoinStatus) -> pb::JoinStatus {
    match s {
        JoinStatus::None => pb::JoinStatus::Unspecified,
        JoinStatus::Pending => pb::JoinStatus::Pending,
        JoinStatus::Confirmed => pb::JoinStatus::Confirmed,
        JoinStatus::Capturing => pb::JoinStatus::Capturing,
        JoinStatus::Captured => pb::JoinStatus::Captured,
        JoinStatus::Releasing => pb::JoinStatus::Releasing,
        JoinStatus::Released => pb::JoinStatus::Released,
        JoinStatus::Failed => pb::JoinStatus::Failed,
    }
}

fn member_status(s: MemberStatus) -> pb::MemberStatus {
    match s {
        MemberStatus::Pending => pb::MemberStatus::Pending,
        MemberStatus::Confirmed => pb::MemberStatus::Confirmed,
        MemberStatus::Left => pb::MemberStatus::Left,
        MemberStatus::Dropped => pb::MemberStatus::Dropped,
    }
}

pub fn campaign(c: CampaignRow) -> pb::Campaign {
    let leader_price = c.group_price - c.leader_discount;
    pb::Campaign {
        campaign_id: c.campaign_id.to_string(),
        merchant_id: c.merchant_id.to_string(),
        title: c.title,
        description: c.description,
        list_price: c.list_price.to_string(),
        group_price: c.group_price.to_string(),
        leader_price: leader_price.to_string(),
        currency: c.currency,
        stock: c.stock as u32,
        stock_left: c.stock_left as u32,
        per_user_limit: c.per_user_limit as u32,
        starts_at_micros: c.starts_at.timestamp_micros(),
        ends_at_micros: c.ends_at.timestamp_micros(),
        mode: mode(c.mode) as i32,
        team_size: c.team_size as u32,
        team_window_secs: c.team_window_secs as u64,
        min_buyers: c.min_buyers as u32,
        status: campaign_status(c.status) as i32,
        tipping: tipping(c.tipping) as i32,
        confirmed_buyers: c.confirmed_buyers.max(0) as u32,
    }
}

pub fn stats(c: &CampaignRow, s: StatsRow, history: JoinHistory) -> pb::CampaignStats {
    pb::CampaignStats {
        campaign_id: c.campaign_id.to_string(),
        teams_opened: s.teams_opened as u32,
        teams_completed: s.teams_completed as u32,
        teams_failed: s.teams_failed as u32,
        buyers: s.buyers as u32,
        units_sold: s.units_sold as u32,
        revenue: s.revenue.to_string(),
        currency: c.currency.clone(),
        stock_left: c.stock_left as u32,
        units_pending: s.units_pending as u32,
        history_started_at_micros: history.started_at.timestamp_micros(),
        history_bucket_micros: history.bucket_micros,
        joins_per_bucket: history.joins,
    }
}

pub fn team(v: TeamView) -> pb::Team {
    let t = v.team;
    let status = team_status(t.status);
    pb::Team {
        team_id: t.team_id.to_string(),
        campaign_id: t.campaign_id.to_string(),
        leader_id: t.leader_id.to_string(),
        status: status as i32,
        team_size: t.team_size as u32,
        members: v
            .members
            .into_iter()
            .map(|m| pb::Member {
                user_id: m.user_id.to_string(),
                join_id: m.join_id.to_string(),
                status: member_status(m.status) as i32,
                leader: m.user_id == t.leader_id,
                joined_at_micros: m.joined_at.timestamp_micros(),
            })
            .collect(),
        confirmed: t.confirmed.max(0) as u32,
        expires_at_micros: t.expires_at.timestamp_micros(),
        opened_at_micros: t.opened_at.timestamp_micros(),
        reason: t.reason,
        joinable: status == pb::TeamStatus::Open && t.members < t.team_size,
    }
}

pub fn join(j: JoinRow) -> pb::Join {
    pb::Join {
        join_id: j.join_id.to_string(),
        campaign_id: j.campaign_id.to_string(),
        team_id: j.team_id.map(|t| t.to_string()).unwrap_or_default(),
        user_id: j.user_id.to_string(),
        status: join_status(j.status) as i32,
        amount: j.amount.to_string(),
        currency: j.currency,
        reason: j.reason,
        created_at_micros: j.created_at.timestamp_micros(),
    }
}

pub fn join_result(v: JoinView) -> pb::JoinResult {
    pb::JoinResult { join: Some(join(v.join)), team: v.team.map(team) }
}

pub fn team_progress(p: TeamProgress) -> pb::TeamProgress {
    let leader = p.team.leader_id;
    pb::TeamProgress {
        team_id: p.team_id.to_string(),
        campaign_id: p.team.campaign_id.map(|c| c.to_string()).unwrap_or_default(),
        sequence: p.sequence,
        change: p.change.to_string(),
        status: team_status(p.team.status) as i32,
        team_size: p.team.size,
        members: p
            .team
            .active_members()
            .map(|m| pb::Member {
                user_id: m.user_id.to_string(),
                join_id: m.join_id.to_string(),
                status: member_status(m.status) as i32,
                leader: Some(m.user_id) == leader,
                joined_at_micros: 0,
            })
            .collect(),
        confirmed: p.team.confirmed(),
        seconds_left: p.seconds_left,
        expires_at_micros: p.team.expires_at_micros,
        stock_left: p.stock_left.max(0) as u32,
        leader_id: leader.map(|l| l.to_string()).unwrap_or_default(),
    }
}

pub fn campaign_progress(p: CampaignProgress) -> pb::CampaignProgress {
    pb::CampaignProgress {
        campaign_id: p.campaign_id.to_string(),
        status: campaign_status(p.row.status) as i32,
        tipping: tipping(p.row.tipping) as i32,
        stock_left: p.row.stock_left.max(0) as u32,
        confirmed_buyers: p.row.confirmed_buyers.max(0) as u32,
        min_buyers: p.row.min_buyers as u32,
        teams_open: p.row.teams_open as u32,
        seconds_left: p.seconds_left,
        ends_at_micros: p.row.ends_at.timestamp_micros(),
        sequence: p.row.version as u64,
    }
}
