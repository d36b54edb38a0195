//! Dead letters, rebuilds, backlog, event streams and stuck sagas.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tuan_proto::admin::v1::{self as admin};

use crate::{
    cli::*,
    ctl::{Ctl, status},
    events,
    output::*,
};

impl Ctl {
    pub(crate) async fn dead_letters(&self, command: &DeadLetters) -> anyhow::Result<()> {
        match command {
            DeadLetters::List { service, all, limit } => {
                let services = service.map(|s| vec![s]).unwrap_or_else(|| Service::ALL.to_vec());
                let mut found = Vec::new();
                for s in services {
                    let request = admin::ListDeadLettersRequest { limit: *limit, before_id: 0, include_redriven: *all };
                    let reply = self.admin(s).await?.list_dead_letters(self.authed(request)).await.map_err(status);
                    let letters = reply.with_context(|| format!("listing dead letters of {}", s.name()))?;
                    found.extend(letters.into_inner().letters.into_iter().map(|l| (s, l)));
                }
                if self.json {
                    let items: Vec<Value> = found
                        .iter()
                        .map(|(s, l)| {
                            let mut v = letter_json(l);
                            v["service"] = json!(s.name());
                            v
                        })
                        .collect();
                    print_json(&Value::Array(items));
                } else if found.is_empty() {
                    println!("no dead letters waiting");
                } else {
                    let rows: Vec<Vec<String>> = found
                        .iter()
                        .map(|(s, l)| {
                            vec![
                                s.name().to_string(),
                                l.id.to_string(),
                                l.consumer.clone(),
                                format!("{}/{}@{}", l.topic, l.partition, l.offset),
                                l.event_type.clone(),
                                when(l.failed_at_micros),
                                if l.redriven_at_micros == 0 { "waiting".into() } else { "re-driven".into() },
                                l.reason.chars().take(80).collect(),
                            ]
                        })
                        .collect();
                    table(&["SERVICE", "ID", "CONSUMER", "MESSAGE", "EVENT", "FAILED", "STATE", "REASON"], &rows);
                }
            }
            DeadLetters::Redrive { service, id } => {
                let request = admin::RedriveDeadLetterRequest { id: *id };
                let reply = self.admin(*service).await?.redrive_dead_letter(self.authed(request)).await;
                let reply = reply.map_err(status)?.into_inner();
                let letter = reply.letter.unwrap_or_default();
                if self.json {
                    print_json(&json!({"published": reply.published, "letter": letter_json(&letter)}));
                } else if reply.published {
                    println!(
                        "re-drove dead letter {} of {}: {} published again to {} for {}",
                        letter.id,
                        service.name(),
                        letter.event_type,
                        letter.topic,
                        letter.consumer
                    );
                } else {
                    println!(
                        "dead letter {} of {} was already re-driven at {}; nothing published",
                        letter.id,
                        service.name(),
                        when(letter.redriven_at_micros)
                    );
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn rebuild(&self, service: Service) -> anyhow::Result<()> {
        let mut admin = self.admin(service).await?;
        let mut stream = admin
            .rebuild_projections(self.authed(admin::RebuildProjectionsRequest {}))
            .await
            .map_err(status)?
            .into_inner();
        let bar = if self.json {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(format!("rebuilding {}", service.name()));
            bar
        };
        let mut last = admin::RebuildProgress::default();
        while let Some(progress) = stream.message().await.map_err(status)? {
            bar.set_length(progress.total.max(progress.replayed));
            bar.set_position(progress.replayed);
            last = progress;
            if last.done {
                break;
            }
        }
        bar.finish_and_clear();
        if !last.done {
            bail!("the rebuild of {} ended without finishing (see the service's log)", service.name());
        }
        if self.json {
            print_json(&json!({"service": service.name(), "replayed": last.replayed, "done": true}));
        } else {
            println!("rebuilt the projections of {} from {} events and swapped them in", service.name(), last.replayed);
        }
        Ok(())
    }

    pub(crate) async fn backlog(&self) -> anyhow::Result<()> {
        let mut backlogs = Vec::new();
        for s in Service::ALL {
            let reply = match self.admin(s).await {
                Ok(mut admin) => admin.get_backlog(self.authed(admin::GetBacklogRequest {})).await.map_err(status),
                Err(e) => Err(e),
            };
            backlogs.push((s, reply.map(|r| r.into_inner())));
        }
        if self.json {
            let items: Vec<Value> = backlogs
                .iter()
                .map(|(s, b)| match b {
                    Ok(b) => json!({
                        "service": s.name(), "outbox_rows": b.outbox_rows,
                        "outbox_oldest_age_seconds": b.outbox_oldest_age_seconds,
                        "dead_letters_waiting": b.dead_letters_waiting, "lag_error": b.lag_error,
                        "lag": b.lag.iter().map(|l| json!({
                            "consumer": l.consumer, "topic": l.topic, "partition": l.partition,
                            "committed": l.committed, "end_offset": l.end_offset, "lag": l.lag,
                        })).collect::<Vec<_>>(),
                    }),
                    Err(e) => json!({"service": s.name(), "error": format!("{e:#}")}),
                })
                .collect();
            print_json(&Value::Array(items));
            return Ok(());
        }
        let mut rows = Vec::new();
        let mut lag_rows = Vec::new();
        for (s, b) in &backlogs {
            match b {
                Ok(b) => {
                    let lag: i64 = b.lag.iter().map(|l| l.lag).sum();
                    rows.push(vec![
                        s.name().to_string(),
                        b.outbox_rows.to_string(),
                        format!("{:.1}s", b.outbox_oldest_age_seconds),
                        b.dead_letters_waiting.to_string(),
                        if b.lag_error.is_empty() { lag.to_string() } else { format!("? ({})", b.lag_error) },
                    ]);
                    for l in &b.lag {
                        lag_rows.push(vec![
                            l.consumer.clone(),
                            l.topic.clone(),
                            l.partition.to_string(),
                            l.committed.to_string(),
                            l.end_offset.to_string(),
                            l.lag.to_string(),
                        ]);
                    }
                }
                Err(e) => rows.push(vec![s.name().to_string(), format!("unreachable: {e:#}")]),
            }
        }
        table(&["SERVICE", "OUTBOX", "OLDEST", "DEAD LETTERS", "CONSUMER LAG"], &rows);
        if !lag_rows.is_empty() {
            println!();
            table(&["CONSUMER", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"], &lag_rows);
        }
        Ok(())
    }

    pub(crate) async fn show_stream(
        &self,
        service: Service,
        stream_id: &str,
        stream_type: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut admin = self.admin(service).await?;
        let mut after_version = 0;
        let mut shown = 0;
        loop {
            let request = admin::ReadStreamRequest {
                stream_id: stream_id.to_string(),
                stream_type: stream_type.unwrap_or_default().to_string(),
                after_version,
                limit: 0,
            };
            let page = admin.read_stream(self.authed(request)).await.map_err(status)?.into_inner();
            for stored in &page.events {
                let Some(envelope) = &stored.envelope else { continue };
                let value =
                    events::describe(envelope, &events::Location::Store { global_position: stored.global_position });
                println!("{}", if self.json { value.to_string() } else { events::line(&value) });
                after_version = after_version.max(envelope.version);
                shown += 1;
            }
            if !page.more || page.events.is_empty() {
                break;
            }
        }
        if shown == 0 {
            bail!("{} has no events of stream {stream_id}", service.name());
        }
        Ok(())
    }

    pub(crate) async fn sagas(&self, older_than: Duration, service: Option<Service>) -> anyhow::Result<()> {
        let services = service.map(|s| vec![s]).unwrap_or_else(|| vec![Service::Groupbuy, Service::Payments]);
        let mut found = Vec::new();
        for s in services {
            let request = admin::ListStuckSagasRequest { older_than_seconds: older_than.as_secs().max(1), limit: 0 };
            let reply = self.admin(s).await?.list_stuck_sagas(self.authed(request)).await.map_err(status);
            found.extend(
                reply.with_context(|| format!("asking {}", s.name()))?.into_inner().sagas.into_iter().map(|x| (s, x)),
            );
        }
        if self.json {
            let items: Vec<Value> = found
                .iter()
                .map(|(s, x)| {
                    json!({
                        "service": s.name(), "kind": x.kind, "id": x.id, "state": x.state,
                        "age_seconds": x.age_seconds, "last_step": x.last_step, "detail": x.detail,
                    })
                })
                .collect();
            print_json(&Value::Array(items));
        } else if found.is_empty() {
            println!("no saga has been stuck for {}s or more", older_than.as_secs());
        } else {
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|(s, x)| {
                    vec![
                        s.name().to_string(),
                        x.kind.clone(),
                        x.id.clone(),
                        x.state.clone(),
                        format!("{:.0}s", x.age_seconds),
                        x.last_step.clone(),
                        x.detail.clone(),
                    ]
                })
                .collect();
            table(&["SERVICE", "KIND", "ID", "STATE", "AGE", "STOPPED AFTER", "DETAIL"], &rows);
        }
        Ok(())
    }
}
