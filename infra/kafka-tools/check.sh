#!/usr/bin/env bash
# Tries the common Kafka clients against the local broker (infra/broker.sh start first) and
# prints what each could do: Debian's kcat, kafka-python, confluent-kafka, aiokafka (PyPI)
# and kafkajs (npm). Installs them under .run/kafka-tools/ (kcat with apt). The results are
# recorded in docs/local-dev.md; run this again after upgrading the broker.
set -euo pipefail
cd "$(dirname "$0")/../.."
BROKER="${TUAN_BROKERS:-127.0.0.1:9092}"
DIR=.run/kafka-tools
mkdir -p "$DIR"

command -v kcat >/dev/null || apt-get install -y kcat >/dev/null
echo "== kcat $(kcat -V | grep -o 'librdkafka [0-9.]*')"
if timeout 20 kcat -b "$BROKER" -L >"$DIR/kcat.out" 2>&1; then echo "kcat OK: metadata listed"; else
  echo "kcat FAILED: $(grep -m1 -o 'ApiVersionRequest failed[^(]*' "$DIR/kcat.out" || tail -1 "$DIR/kcat.out")"; fi

[ -x "$DIR/venv/bin/python" ] || python3 -m venv "$DIR/venv"
"$DIR/venv/bin/pip" install -q kafka-python confluent-kafka aiokafka
"$DIR/venv/bin/pip" list 2>/dev/null | grep -iE '^(kafka-python|confluent-kafka|aiokafka) '
out=$("$DIR/venv/bin/python" infra/kafka-tools/check.py "$BROKER")
echo "$out" | grep -v '^TOPIC'
topic=$(echo "$out" | sed -n 's/^TOPIC //p')

if [ ! -d "$DIR/node_modules/kafkajs" ]; then (cd "$DIR" && npm init -y >/dev/null && npm install -s kafkajs); fi
echo "kafkajs $(node -p "require('./$DIR/node_modules/kafkajs/package.json').version")"
NODE_PATH="$DIR/node_modules" node infra/kafka-tools/check.js "$topic" "$BROKER"
