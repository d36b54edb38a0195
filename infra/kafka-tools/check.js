const { Kafka, logLevel } = require('kafkajs');
// kafkajs: list topics, produce, consume the topic check.py wrote (4 messages) in a group.
const topic = process.argv[2];
const broker = process.argv[3] || '127.0.0.1:9092';
const kafka = new Kafka({ clientId: 'toolcheck', brokers: [broker], logLevel: logLevel.ERROR });
(async () => {
  const admin = kafka.admin(); await admin.connect();
  const topics = await admin.listTopics();
  const p = kafka.producer(); await p.connect();
  await p.send({ topic, messages: [{ key: 'k4', value: 'v4' }] }); await p.disconnect();
  const c = kafka.consumer({ groupId: 'kjs-' + topic }); await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no messages in 40 s, got ' + got)), 40000);
    c.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()); if (got.length >= 4) { clearTimeout(t); resolve(); } } });
  });
  await c.disconnect(); await admin.disconnect();
  console.log('kafkajs OK:', topics.length, 'topics;', got);
  process.exit(0);
})().catch(e => { console.log('kafkajs FAILED:', e.message); process.exit(1); });
