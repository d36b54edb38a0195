//! Tables fed by other services' events, and payments' own bookkeeping outside `proj`
//! (a projection rebuild replaces `proj` wholesale, so these live in `public`).

use sqlx::PgPool;
use tuan_messaging::social;

/// Databases from before the shared social graph kept friendships and verified merchants
/// under names of their own; they are renamed into the shared tables once, keeping their rows.
const LEGACY_SOCIAL_TABLES: &str = r#"
DO $$ BEGIN
    IF to_regclass('public.friendships') IS NOT NULL AND to_regclass('public.friends') IS NULL THEN
        ALTER TABLE public.friendships RENAME TO friends;
    END IF;
    IF to_regclass('public.verified_merchants') IS NOT NULL AND to_regclass('public.merchants') IS NULL THEN
        ALTER TABLE public.verified_merchants RENAME TO merchants;
        ALTER TABLE public.merchants ADD COLUMN verified_at TIMESTAMPTZ NOT NULL DEFAULT now();
    END IF;
END $$;
"#;

/// The social graph (friendships, blocks, verified merchants: `tuan_messaging::social`).
/// Idempotency keys of money commands live in the event store's `public.idempotency_keys`.
pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_eventstore::install_tables(pool, LEGACY_SOCIAL_TABLES).await?;
    social::install(pool).await
}
