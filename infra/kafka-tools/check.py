"""Each Python client: produce (with a header), consume in a group, commit, list topics."""
import sys, time, uuid
BROKER = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
topic = "toolcheck-" + uuid.uuid4().hex[:8]
def run(name, f):
    try:
        print(name, "OK:", f())
    except Exception as e:
        print(name, "FAILED:", type(e).__name__, e)

def kafka_python():
    from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient
    from kafka.admin import NewTopic
    a = KafkaAdminClient(bootstrap_servers=BROKER)
    a.create_topics([NewTopic(topic, 1, 1)])
    p = KafkaProducer(bootstrap_servers=BROKER)
    p.send(topic, key=b"k", value=b"v1", headers=[("traceparent", b"x")]).get(timeout=10); p.flush()
    c = KafkaConsumer(topic, bootstrap_servers=BROKER, group_id="kp-"+topic, auto_offset_reset="earliest", consumer_timeout_ms=15000)
    got = [ (m.key, m.value, m.headers) for m in c][:1]
    c.commit()
    return f"produced+consumed {got}, {len(a.list_topics())} topics listed"

def confluent():
    from confluent_kafka import Producer, Consumer
    from confluent_kafka.admin import AdminClient
    import confluent_kafka
    p = Producer({"bootstrap.servers": BROKER, "enable.idempotence": True})
    p.produce(topic, key=b"k2", value=b"v2"); p.flush(10)
    c = Consumer({"bootstrap.servers": BROKER, "group.id": "ck-"+topic, "auto.offset.reset": "earliest"})
    c.subscribe([topic]); got=[]; t=time.time()
    while len(got) < 2 and time.time()-t < 30:
        m = c.poll(1.0)
        if m is not None and not m.error(): got.append(m.value())
    c.commit(asynchronous=False); c.close()
    md = AdminClient({"bootstrap.servers": BROKER}).list_topics(timeout=10)
    return f"librdkafka {confluent_kafka.libversion()[0]}: idempotent produce, group consume {got}, {len(md.topics)} topics"

def aio():
    import asyncio
    from aiokafka import AIOKafkaProducer, AIOKafkaConsumer
    async def go():
        p = AIOKafkaProducer(bootstrap_servers=BROKER); await p.start()
        await p.send_and_wait(topic, b"v3", key=b"k3"); await p.stop()
        c = AIOKafkaConsumer(topic, bootstrap_servers=BROKER, group_id="ai-"+topic, auto_offset_reset="earliest"); await c.start()
        got=[]
        try:
            while len(got) < 3:
                m = await asyncio.wait_for(c.getone(), 30); got.append(m.value)
            await c.commit()
        finally:
            await c.stop()
        return got
    return asyncio.run(go())
run("kafka-python", kafka_python)
run("confluent-kafka", confluent)
run("aiokafka", aio)
print("TOPIC", topic)
