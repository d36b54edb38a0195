//! A service's broker identity: with `kafka.security` set (SASL/SCRAM-SHA-512, as Strimzi's
//! `KafkaUser` gives each service), every client the process makes authenticates, and a broker
//! that requires authentication takes its events; a client without the identity, or with a
//! wrong password, gets nothing through. Against tansu started with `--authentication`.
//!
//! Its own test binary: the identity is the process's (`use_identity`).

use std::time::Duration;

use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer as _, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use tuan_messaging::{KafkaClients, topics};
use tuan_runtime::config::KafkaSecurity;
use tuan_testkit::OwnBroker;

fn identity(password: &str) -> KafkaSecurity {
    KafkaSecurity {
        protocol: "sasl_plaintext".into(),
        sasl_mechanism: "SCRAM-SHA-512".into(),
        sasl_username: "payments".into(),
        sasl_password: password.to_string().into(),
        ssl_ca_location: String::new(),
    }
}

async fn delivered(producer: &FutureProducer, topic: &str) -> bool {
    producer.send(FutureRecord::to(topic).key("k").payload("v"), Timeout::After(Duration::from_secs(5))).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_its_identity_gets_through_and_nobody_else_does() {
    let broker = tokio::task::block_in_place(|| OwnBroker::with_users(&[("payments", "payments-password-0123456789")]));
    tuan_messaging::use_identity(&identity("payments-password-0123456789"));
    let topic = "sasl.check".to_string();
    topics::ensure_topics(&broker.address(), std::slice::from_ref(&topic), 1, 1, Duration::from_secs(20))
        .await
        .expect("the admin client authenticates");
    let kafka = KafkaClients::new(&broker.address()).unwrap();
    assert!(delivered(&kafka.producer, &topic).await, "the service's own producer is let in");
    let consumer: StreamConsumer = tuan_messaging::consumer_config(&broker.address(), "sasl-check").create().unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await.expect("a message").unwrap();
    assert_eq!(message.payload(), Some(&b"v"[..]));

    // Clients made without the process's settings: no identity, and a wrong password.
    let bare = |extra: &[(&str, &str)]| {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", broker.address()).set("message.timeout.ms", "4000");
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config.create::<FutureProducer>().unwrap()
    };
    assert!(!delivered(&bare(&[]), &topic).await, "no identity, no entry");
    let wrong = identity("a-wrong-password-0123456789");
    let settings: Vec<(&str, String)> = wrong.client_settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(!delivered(&bare(&settings), &topic).await, "a wrong password, no entry");
}
