#!/usr/bin/env python3
"""SIGTERM under load: the users service drains without failing or losing a call.

    infra/drain-test.sh            (installs the Python deps, then runs this)

Starts target/debug/users on a fresh database and a private topic prefix, signs up one user per
worker, has every worker call UpdateProfile back to back (a new display name each time), sends
SIGTERM in the middle of it and checks:

  1. no call failed with INTERNAL or UNKNOWN (UNAVAILABLE once the listener is closed is the
     expected way to be turned away, and nothing else is allowed either);
  2. every call that returned OK has exactly its event in the store, and no call that failed has
     one: per user, ProfileUpdated events == OK calls, and the last event names the last OK call;
  3. the process exited 0 within 15 s of SIGTERM;
  4. after a restart the outbox drains to 0, and every event id of the store is on the service's
     Kafka topic (read back with confluent-kafka): published at least once, none lost.

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and tansu installed (`make test` sees
to both). It runs a private broker on a free port (infra/broker.sh with TUAN_BROKER_PORT), so
other tests restarting or wiping the shared broker cannot disturb it; `--shared-broker` uses
TUAN_TEST_BROKERS (default 127.0.0.1:9092) instead. Leaves its logs in .run/drain-test/.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".run" / "drain-test"
STUBS = WORK / "stubs"
PG = ["psql", "-h", "127.0.0.1", "-p", os.environ.get("TUAN_PG_PORT", "5432"), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qtA"]
BROKERS = os.environ.get("TUAN_TEST_BROKERS", "127.0.0.1:9092")
PASSWORD = "drain-Test-2026-x9"


def log(msg: str) -> None:
    print(f"[drain-test] {msg}", flush=True)


def stubs():
    """Compiles the users API from proto/ into .run/drain-test/stubs (grpcio-tools)."""
    from grpc_tools import protoc  # noqa: PLC0415

    STUBS.mkdir(parents=True, exist_ok=True)
    protos = ["tuan/users/v1/users.proto", "tuan/common/v1/common.proto"]
    include = str(Path(protoc.__file__).parent / "_proto")
    rc = protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={STUBS}", f"--grpc_python_out={STUBS}", *protos])
    if rc != 0:
        raise SystemExit("protoc failed")
    sys.path.insert(0, str(STUBS))
    from tuan.users.v1 import users_pb2, users_pb2_grpc  # noqa: PLC0415

    return users_pb2, users_pb2_grpc


def sign_up_code(stub, pb, db: str, phone: str) -> str:
    """Asks for a sign-up code and reads it where the development SMS sender wrote it."""
    stub.RequestPhoneCode(pb.RequestPhoneCodeRequest(phone=phone, purpose=pb.PHONE_CODE_PURPOSE_SIGN_UP), timeout=30)
    for _ in range(100):
        code = psql(db, f"SELECT code FROM public.dev_sms WHERE phone_e164 = '{phone}' ORDER BY id DESC LIMIT 1")
        if code:
            return code
        time.sleep(0.1)
    raise RuntimeError(f"no sign-up code for {phone} in public.dev_sms")


def psql(db: str, sql: str) -> str:
    return subprocess.run([*PG, "-d", db, "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Service:
    """target/debug/users with its own database, port and topic prefix."""

    def __init__(self, binary: Path, db: str, prefix: str) -> None:
        self.binary, self.db, self.prefix = binary, db, prefix
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        env = dict(os.environ)
        env.update(
            TUAN_CONFIG=str(WORK / "no-such-config.toml"),
            TUAN_ENVIRONMENT="development",
            # Every worker signs up from this machine.
            TUAN_USERS__PHONE_CODES__PER_CLIENT_PER_HOUR="1000000",
            TUAN_DATABASE__URL=f"postgres://postgres@127.0.0.1:{os.environ.get('TUAN_PG_PORT', '5432')}/{self.db}",
            TUAN_GRPC_ADDR=f"127.0.0.1:{self.port}",
            TUAN_KAFKA__BROKERS=BROKERS,
            TUAN_KAFKA__TOPIC_PREFIX=self.prefix,
            TUAN_KAFKA__PARTITIONS="3",
            TUAN_KAFKA__REPLICATION_FACTOR="1",
            TUAN_TELEMETRY__LOG_FORMAT="pretty",
            RUST_LOG=os.environ.get("RUST_LOG", "info"),
        )
        out = open(WORK / f"users-run{self.runs}.log", "w")
        self.proc = subprocess.Popen([str(self.binary)], env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, stub, pb, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"users exited with {self.proc.returncode} while starting; see {WORK}/users-run{self.runs}.log")
            try:
                stub.GetDiscoverySalt(pb.GetDiscoverySaltRequest(), timeout=2)
                return
            except grpc.RpcError:
                time.sleep(0.2)
        raise SystemExit(f"users not ready after {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def kafka_event_ids(topic: str, timeout: float) -> Counter:
    """Every event id (the `event_id` header) on `topic`, read from the beginning of each partition
    up to its high watermark. Partitions are assigned directly: no consumer group involved."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition  # noqa: PLC0415

    consumer = Consumer({
        "bootstrap.servers": BROKERS,
        "group.id": f"drain-test-{uuid.uuid4()}",
        "enable.auto.commit": False,
    })
    seen: Counter = Counter()
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = sorted(meta.topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and done != set(parts):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().fatal():
                    raise KafkaException(msg.error())
                continue
            headers = dict(msg.headers() or [])
            event_id = headers.get("event_id")
            if event_id is None:
                raise SystemExit(f"message without an event_id header on {topic}: headers {sorted(headers)}")
            seen[event_id.decode()] += 1
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
    finally:
        consumer.close()
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--load-seconds", type=float, default=3.0, help="load before SIGTERM")
    ap.add_argument("--binary", type=Path, default=ROOT / "target" / "debug" / "users")
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--shared-broker", action="store_true", help="use TUAN_TEST_BROKERS instead of a private broker")
    args = ap.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    if not args.binary.exists():
        raise SystemExit(f"{args.binary} missing: build it with `cargo build -p users`")
    global BROKERS
    broker_port = None
    if args.shared_broker:
        host, port = BROKERS.split(",")[0].rsplit(":", 1)
        if not port_open(host, int(port)):
            subprocess.run([str(ROOT / "infra" / "broker.sh"), "start"], check=True)
    else:
        broker_port = free_port()
        BROKERS = f"127.0.0.1:{broker_port}"
        subprocess.run([str(ROOT / "infra" / "broker.sh"), "start"], check=True, env={**os.environ, "TUAN_BROKER_PORT": str(broker_port)})
    pb, pb_grpc = stubs()

    tag = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    db = f"tuan_drain_{tag}"
    prefix = f"drain{tag}."
    psql("postgres", f'CREATE DATABASE "{db}"')
    svc = Service(args.binary, db, prefix)
    failures: list[str] = []
    try:
        svc.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{svc.port}")
        stub = pb_grpc.UsersServiceStub(channel)
        svc.wait_ready(stub, pb)
        log(f"users up on port {svc.port} (database {db}, topic {prefix}tuan.users.v1)")

        # One user per worker, so workers never race on an aggregate (no ABORTED retries).
        tokens = []
        for w in range(args.workers):
            phone = f"+86139{random.randrange(10**8):08d}"
            code = sign_up_code(stub, pb, db, phone)
            t = stub.SignUp(
                pb.SignUpRequest(phone=phone, password=PASSWORD, display_name=f"w{w}", region="CN", code=code), timeout=30
            )
            tokens.append((t.user_id, t.access_token))
        baseline = int(psql(db, "SELECT count(*) FROM public.events"))
        log(f"{args.workers} users signed up ({baseline} events)")

        outcomes: dict[str, list[tuple[str, str]]] = defaultdict(list)  # user -> [(name, code)]
        codes: Counter = Counter()
        details: dict[str, str] = {}
        stop = threading.Event()
        lock = threading.Lock()

        def worker(w: int) -> None:
            user_id, token = tokens[w]
            # Each worker its own channel (own HTTP/2 connection), like separate clients.
            ch = grpc.insecure_channel(f"127.0.0.1:{svc.port}")
            st = pb_grpc.UsersServiceStub(ch)
            meta = (("authorization", f"Bearer {token}"),)
            i = 0
            refused = 0
            while not stop.is_set():
                i += 1
                name = f"w{w}-{i}"
                try:
                    st.UpdateProfile(pb.UpdateProfileRequest(display_name=name), metadata=meta, timeout=15)
                    code = "OK"
                except grpc.RpcError as e:
                    code = e.code().name
                    with lock:
                        details.setdefault(code, e.details() or "")
                with lock:
                    outcomes[user_id].append((name, code))
                    codes[code] += 1
                if code == "UNAVAILABLE":
                    refused += 1
                    if refused >= 3:
                        break
                    time.sleep(0.05)
            ch.close()

        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(args.workers)]
        for t in threads:
            t.start()
        time.sleep(args.load_seconds)
        ok_before = codes["OK"]
        log(f"SIGTERM after {args.load_seconds:.1f} s of load ({ok_before} calls OK so far)")
        sent = time.monotonic()
        svc.proc.send_signal(signal.SIGTERM)
        try:
            rc = svc.proc.wait(15)
            exit_s = time.monotonic() - sent
        except subprocess.TimeoutExpired:
            rc, exit_s = None, None
            failures.append("the process did not exit within 15 s of SIGTERM")
            svc.proc.kill()
            svc.proc.wait()
        stop.set()
        for t in threads:
            t.join(20)
        channel.close()
        if rc is not None and rc != 0:
            failures.append(f"exit status {rc} after SIGTERM (want 0)")
        ok_after = codes["OK"] - ok_before
        log(f"exited with {rc} after {exit_s:.2f} s; {ok_after} more calls completed OK after SIGTERM" if exit_s is not None else "no exit")

        if ok_after == 0:
            failures.append("no call completed after SIGTERM: nothing was in flight, so the drain was not exercised")
        bad = {c: n for c, n in codes.items() if c not in ("OK", "UNAVAILABLE")}
        for c, n in bad.items():
            failures.append(f"{n} call(s) failed with {c}: {details.get(c)!r}")

        # What the store has: ProfileUpdated per user, oldest first.
        rows = psql(db, "SELECT stream_id, count(*) FROM public.events WHERE event_type LIKE '%ProfileUpdated' GROUP BY stream_id")
        stored = {line.split("|")[0]: int(line.split("|")[1]) for line in rows.splitlines() if line}
        total = int(psql(db, "SELECT count(*) FROM public.events"))
        ok_calls = sum(1 for calls in outcomes.values() for _, c in calls if c == "OK")
        for user_id, calls in outcomes.items():
            ok = [n for n, c in calls if c == "OK"]
            if stored.get(user_id, 0) != len(ok):
                failures.append(f"user {user_id}: {len(ok)} OK calls but {stored.get(user_id, 0)} ProfileUpdated events")
        if total != baseline + ok_calls:
            failures.append(f"{total} events in the store, expected {baseline} + {ok_calls} OK calls")
        log(f"store: {total} events = {baseline} from sign-ups + {sum(stored.values())} ProfileUpdated; OK calls {ok_calls}")

        # Restart: the relay publishes whatever SIGTERM left in the outbox.
        pending = int(psql(db, "SELECT count(*) FROM public.outbox"))
        log(f"outbox after shutdown: {pending} unpublished (the restart must publish them)")
        svc.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{svc.port}")
        svc.wait_ready(pb_grpc.UsersServiceStub(channel), pb)
        channel.close()
        deadline = time.monotonic() + 60
        while (left := int(psql(db, "SELECT count(*) FROM public.outbox"))) and time.monotonic() < deadline:
            time.sleep(0.5)
        if left:
            failures.append(f"outbox still holds {left} events 60 s after the restart")
        else:
            log("outbox drained to 0 after the restart")
        svc.stop()
        if svc.proc.returncode != 0:
            failures.append(f"second run exited with {svc.proc.returncode}")

        # Every stored public event is on Kafka (at least once; the relay may repeat a batch).
        # Sign-ups and sessions are private (tuan_messaging::PRIVATE_EVENTS): never published.
        ids = set(psql(db, "SELECT event_id FROM public.events WHERE event_type NOT IN "
                           "('tuan.users.v1.UserSignedUp', 'tuan.users.v1.SessionStarted')").split())
        seen = kafka_event_ids(f"{prefix}tuan.users.v1", timeout=60)
        missing = ids - set(seen)
        dupes = sum(n - 1 for n in seen.values() if n > 1)
        if missing:
            failures.append(f"{len(missing)} of {len(ids)} events never reached Kafka, e.g. {sorted(missing)[:3]}")
        log(f"kafka: {len(ids) - len(missing)}/{len(ids)} events on the topic ({dupes} duplicate deliveries, absorbed by consumers)")

        log("summary: " + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())) + f"; exit {rc} in {exit_s:.2f} s" if exit_s is not None else "summary: no exit")
    finally:
        svc.stop()
        if not args.keep_db:
            subprocess.run([*PG, "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], capture_output=True)
        if broker_port is not None:
            subprocess.run([str(ROOT / "infra" / "broker.sh"), "stop"], env={**os.environ, "TUAN_BROKER_PORT": str(broker_port)})
            shutil.rmtree(ROOT / ".run" / f"tansu-{broker_port}", ignore_errors=True)
    if failures:
        for f in failures:
            log(f"FAIL {f}")
        log(f"logs: {WORK}")
        print("drain: 0 passed, 1 failed")
        return 1
    print("drain: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
