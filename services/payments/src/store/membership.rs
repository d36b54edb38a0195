//! Circle membership as the circles service tells it (topic `tuan.circles.v1`): who is in which
//! circle, and which circles were dissolved. Fed by `consumers::CirclesHandler`; in `public`
//! like the friendships and blocks, since a projection rebuild replaces only `proj`.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const SCHEMA: &str = r#"
-- One row per (circle, user) membership stream of the circles service. A member who left or
-- was kicked keeps the row with member = false, so an older event redelivered later (a
-- re-driven dead letter) cannot bring them back: a row moves only to a higher version.
CREATE TABLE IF NOT EXISTS public.circle_members (
    circle_id UUID NOT NULL,
    user_id   UUID NOT NULL,
    member    BOOLEAN NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (circle_id, user_id)
);
-- Circles their owner dissolved: their members stay members here (their bills stay payable),
-- but no new bill is recorded in them.
CREATE TABLE IF NOT EXISTS public.dissolved_circles (
    circle_id UUID PRIMARY KEY
);
"#;

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

/// `user` joined (`member`) or left `circle`, as of `version` of their membership stream.
pub async fn set_member(
    conn: &mut PgConnection,
    circle: Uuid,
    user: Uuid,
    member: bool,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.circle_members (circle_id, user_id, member, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (circle_id, user_id) DO UPDATE SET member = EXCLUDED.member, version = EXCLUDED.version \
         WHERE circle_members.version < EXCLUDED.version",
    )
    .bind(circle)
    .bind(user)
    .bind(member)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn dissolve(conn: &mut PgConnection, circle: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO public.dissolved_circles (circle_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(circle)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether `circle` was dissolved, and which of `users` are not its members.
pub async fn outsiders(
    conn: &mut PgConnection,
    circle: Uuid,
    users: &[Uuid],
) -> Result<(bool, Vec<Uuid>), sqlx::Error> {
    let (dissolved, outsiders): (bool, Vec<Uuid>) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM public.dissolved_circles WHERE circle_id = $1), \
                COALESCE((SELECT array_agg(u ORDER BY ord) FROM unnest($2::uuid[]) WITH ORDINALITY AS x(u, ord) \
                          WHERE NOT EXISTS (SELECT 1 FROM public.circle_members m \
                                            WHERE m.circle_id = $1 AND m.user_id = x.u AND m.member)), '{}')",
    )
    .bind(circle)
    .bind(users)
    .fetch_one(conn)
    .await?;
    Ok((dissolved, outsiders))
}

/// Whether `user` may see and settle `circle`'s money: a member (of a dissolved circle too), or
/// someone who left or was kicked and still owes or is owed there (so a debt can still be paid).
/// `group` is the circle's group key of the balances.
pub async fn may_settle_in(
    conn: &mut PgConnection,
    circle: Uuid,
    group: &str,
    user: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM public.circle_members WHERE circle_id = $1 AND user_id = $2 AND member) \
             OR EXISTS (SELECT 1 FROM group_net WHERE group_key = $3 AND user_id = $2 AND net <> 0)",
    )
    .bind(circle)
    .bind(user)
    .bind(group)
    .fetch_one(conn)
    .await
}

/// Some pair of `users` where one blocked the other, if any.
pub async fn blocked_pair(conn: &mut PgConnection, users: &[Uuid]) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT blocker_id, blocked_id FROM public.blocks \
         WHERE blocker_id = ANY($1) AND blocked_id = ANY($1) ORDER BY blocker_id, blocked_id LIMIT 1",
    )
    .bind(users)
    .fetch_optional(conn)
    .await
}
