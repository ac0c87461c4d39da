#!/usr/bin/python3
"""Self-test of the CCE simulator (tests/sim/ccesim.py), run as a subprocess.

    /usr/bin/python3 tests/sim/test_ccesim.py [-v]
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ccesim.py")
READY_KEYS = {"endpoint", "apiserver", "ca_file", "project_id", "region", "token",
              "clusters", "pid", "state_dir", "auth_url", "user", "user_id", "password",
              "domain", "domain_id", "ak", "sk", "projects"}
ROUTES = ("clusters", "cluster", "clustercert", "apiserver", "other", "iam-tokens",
          "iam-projects")
STATUS_KEYS = {"kind", "apiVersion", "metadata", "status", "code", "errorCode",
               "errorMessage", "error_code", "error_msg", "message", "reason"}


class Simulator:
    """A running ccesim.py and a small HTTPS client for it."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(["/usr/bin/python3", SIM, "--quiet", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)   # a loaded CI machine starts it slowly
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.proc.kill()
            raise RuntimeError("simulator did not start: %s" % self.proc.stderr.read().decode())
        self.ready_line = line
        self.info = json.loads(line)
        self.host, port = self.info["endpoint"][len("https://"):].rsplit(":", 1)
        self.port = int(port)
        self.api_port = int(self.info["apiserver"].rsplit(":", 1)[1])
        with open(self.info["ca_file"], "rb") as f:
            self.ca_pem = f.read()
        self.context = ssl.create_default_context(cafile=self.info["ca_file"])
        self.base = "/api/v3/projects/%s" % self.info["project_id"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(10)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
        return code

    def connect(self):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=10)

    def request(self, method, path, body=None, token=True, headers=None, conn=None):
        """(status, headers, body bytes) of one request on its own connection."""
        hdrs = {"Content-Type": "application/json"}
        if token is True:
            hdrs["X-Auth-Token"] = self.info["token"]
        elif token:
            hdrs["X-Auth-Token"] = token
        hdrs.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        own = conn is None
        conn = conn or self.connect()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            if own:
                conn.close()

    def get_json(self, path):
        status, _, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def control(self, path, body=None):
        status, _, data = self.request("POST" if body is not None else "GET",
                                       "/_sim/" + path, body=body, token=None)
        assert status == 200, (path, status, data)
        return json.loads(data)

    def fault(self, **rule):
        self.control("faults", rule)

    def clustercert(self, cluster_id, body=None, **kw):
        return self.request("POST", "%s/clusters/%s/clustercert" % (self.base, cluster_id),
                            body={"duration": 30} if body is None else body, **kw)


def setUpModule():
    global SIMULATOR, FLEET
    SIMULATOR = Simulator()
    FLEET = SIMULATOR.get_json(SIMULATOR.base + "/clusters")["items"]


def tearDownModule():
    SIMULATOR.stop()


def index_of(cluster):
    return int(cluster["metadata"]["name"].rsplit("-", 1)[1])


def available():
    return [c for c in FLEET if c["status"]["phase"] == "Available"]


def load_client(kubeconfig):
    user = kubeconfig["users"][0]["user"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    key = serialization.load_pem_private_key(base64.b64decode(user["client-key-data"]), None)
    return cert, key


class SimTestCase(unittest.TestCase):
    def setUp(self):
        self.sim = SIMULATOR
        self.sim.control("reset", {})
        self.sim.control("config", {"latency_ms": 0, "rates": {}, "retry_after": 1})

    def assert_json_headers(self, headers, request_id=True):
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertIsNotNone(headers["Content-Length"])
        if request_id:
            self.assertRegex(headers["X-Request-Id"] or "", r"^[0-9a-f-]{36}$")
        else:
            self.assertIsNone(headers["X-Request-Id"])


class StartupTest(SimTestCase):
    def test_ready_line(self):
        info = self.sim.info
        self.assertEqual(set(info), READY_KEYS)
        self.assertRegex(info["endpoint"], r"^https://127\.0\.0\.1:\d+$")
        self.assertRegex(info["apiserver"], r"^https://127\.0\.0\.1:\d+$")
        self.assertEqual(info["ca_file"], os.path.join(info["state_dir"], "ca.pem"))
        self.assertEqual((info["project_id"], info["region"], info["token"], info["clusters"]),
                         ("0123456789abcdef0123456789abcdef", "eu-de", "cce-sim-token", 12))
        self.assertEqual(info["pid"], self.sim.proc.pid)
        with open(os.path.join(info["state_dir"], "info.json")) as f:
            self.assertEqual(json.load(f), info)
        ca = x509.load_pem_x509_certificate(self.sim.ca_pem)
        self.assertEqual(ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         "cceauto simulator CA")
        self.assertIsInstance(ca.public_key(), ec.EllipticCurvePublicKey)

    def test_refuses_non_loopback(self):
        result = subprocess.run(["/usr/bin/python3", SIM, "--listen", "192.0.2.1"],
                                capture_output=True, timeout=10)
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"not a loopback address", result.stderr)

    def test_sigterm_removes_temp_state_and_cli_options_apply(self):
        sim = Simulator("--clusters", "3", "--seed", "5", "--fault", "429=1",
                        "--retry-after", "7", "--token", "t0k", "--region", "eu-nl")
        try:
            self.assertEqual((sim.info["clusters"], sim.info["region"]), (3, "eu-nl"))
            status, headers, body = sim.request("GET", sim.base + "/clusters", token="t0k")
            self.assertEqual((status, headers["Retry-After"]), (429, "7"))
            self.assertEqual(json.loads(body)["errorCode"], "CCE.02429001")
            sim.control("config", {"rates": {}})
            fleet = json.loads(sim.request("GET", sim.base + "/clusters", token="t0k")[2])
            self.assertEqual(len(fleet["items"]), 3)
            self.assertNotEqual(fleet["items"][0]["metadata"]["uid"],
                                FLEET[0]["metadata"]["uid"])      # another seed
            self.assertTrue(os.path.isdir(sim.info["state_dir"]))
        finally:
            code = sim.stop()
        self.assertEqual(code, 0)
        self.assertFalse(os.path.exists(sim.info["state_dir"]))

    def test_explicit_state_dir_is_kept(self):
        with tempfile.TemporaryDirectory() as state:
            sim = Simulator("--state-dir", state)
            self.assertEqual(sim.stop(), 0)
            self.assertEqual(sorted(os.listdir(state)), ["ca.pem", "info.json"])


class FleetTest(SimTestCase):
    def test_cluster_list(self):
        status, headers, body = self.sim.request("GET", self.sim.base + "/clusters")
        self.assertEqual(status, 200)
        self.assert_json_headers(headers)
        listing = json.loads(body)
        self.assertEqual((listing["kind"], listing["apiVersion"]), ("Cluster", "v3"))
        self.assertEqual([index_of(c) for c in listing["items"]], list(range(12)))
        self.assertEqual(len({c["metadata"]["uid"] for c in FLEET}), 12)
        api = self.sim.api_port
        shapes = set()
        for c in listing["items"]:
            i = index_of(c)
            env = ("prod", "staging", "dev")[i % 3]
            meta, spec, st = c["metadata"], c["spec"], c["status"]
            self.assertEqual(meta["name"], "%s-%03d" % (env, i))
            self.assertEqual(meta["labels"], {"env": env})
            self.assertRegex(meta["uid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-")
            self.assertRegex(meta["creationTimestamp"],
                             r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC$")
            self.assertEqual(spec["type"], "VirtualMachine")
            self.assertEqual(spec["flavor"], ("cce.s1.small", "cce.s2.medium")[i % 2])
            self.assertEqual(spec["version"], ("v1.25.6-r0", "v1.27.4-r0", "v1.28.3-r0",
                                               "v1.29.1-r0")[i % 4])
            for key in ("hostNetwork", "containerNetwork", "authentication", "billingMode"):
                self.assertIn(key, spec)
            self.assertIn("jobID", st)
            self.assertEqual(st["phase"], {7: "Unavailable", 9: "Creating"}.get(i % 10,
                                                                               "Available"))
            internal = "https://127.0.0.1:%d" % api
            external = "https://127.0.0.2:%d" % api
            eip = i % 3 != 2
            if i % 4 == 3:
                shapes.add("huawei")
                want = [{"url": internal, "type": "Internal"}]
                if eip:
                    want.append({"url": external, "type": "External"})
                self.assertEqual(st["endpoints"], want)
            else:
                shapes.add("otc")
                want = {"internal": internal}
                if eip:
                    want["external"] = external
                    want["external_otc"] = "https://%s.cce.eu-de.sim.invalid" % meta["uid"]
                self.assertEqual(st["endpoints"], want)
            # One cluster reads the same as in the list.
            self.assertEqual(self.sim.get_json("%s/clusters/%s" % (self.sim.base, meta["uid"])),
                             c)
        self.assertEqual(shapes, {"otc", "huawei"})
        self.assertEqual({c["status"]["phase"] for c in FLEET},
                         {"Available", "Unavailable", "Creating"})

    def test_fleet_is_deterministic(self):
        self.assertEqual(self.sim.get_json(self.sim.base + "/clusters")["items"], FLEET)

    def test_keep_alive(self):
        conn = self.sim.connect()
        try:
            for _ in range(3):
                status, headers, _ = self.sim.request("GET", self.sim.base + "/clusters",
                                                      conn=conn)
                self.assertEqual(status, 200)
                self.assertIsNone(headers["Connection"])
        finally:
            conn.close()

    def test_stalled_handshake_blocks_nobody(self):
        with socket.create_connection((self.sim.host, self.sim.port)):   # never says hello
            started = time.monotonic()
            self.assertEqual(self.sim.request("GET", self.sim.base + "/clusters")[0], 200)
            self.assertLess(time.monotonic() - started, 2)


class ClustercertTest(SimTestCase):
    def test_kubeconfig_shapes(self):
        ca_b64 = base64.b64encode(self.sim.ca_pem).decode()
        internal = "https://127.0.0.1:%d" % self.sim.api_port
        external = "https://127.0.0.2:%d" % self.sim.api_port
        kinds = set()
        for c in available():
            i, uid = index_of(c), c["metadata"]["uid"]
            status, headers, body = self.sim.clustercert(uid)
            self.assertEqual(status, 200, body)
            self.assert_json_headers(headers)
            self.assertRegex(headers["Port-ID"] or "", r"^[0-9a-f-]{36}$")
            kc = json.loads(body)
            self.assertEqual((kc["kind"], kc["apiVersion"], kc["preferences"]),
                             ("Config", "v1", {}))
            eip = i % 3 != 2
            newer = c["spec"]["version"] >= "v1.27"
            want = {"internalCluster": ("internal", {"server": internal,
                                                     "certificate-authority-data": ca_b64})}
            if eip:
                ext = {"server": external, "insecure-skip-tls-verify": True}
                if i % 7 == 6:
                    ext["certificate-authority-data"] = ca_b64
                    kinds.add("quirk")
                want["externalCluster"] = ("external", ext)
                kinds.add("external")
                if newer:
                    want["externalClusterTLSVerify"] = (
                        "externalTLSVerify",
                        {"server": external, "certificate-authority-data": ca_b64})
                    kinds.add("externalTLSVerify")
            else:
                kinds.add("internal only")
            if i % 5 == 4:
                want["customSAN-0"] = ("customSAN-0", {"server": internal,
                                                       "certificate-authority-data": ca_b64})
                kinds.add("customSAN")
            self.assertEqual({e["name"]: e["cluster"] for e in kc["clusters"]},
                             {name: entry for name, (_, entry) in want.items()}, i)
            self.assertEqual(sorted((e["name"], e["context"]["cluster"], e["context"]["user"])
                                    for e in kc["contexts"]),
                             sorted((ctx, name, "user") for name, (ctx, _) in want.items()))
            self.assertEqual(kc["current-context"], "external" if eip else "internal")
            self.assertEqual([u["name"] for u in kc["users"]], ["user"])
            cert, key = load_client(kc)
            self.assertEqual(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                             "cce-user-" + uid[:8])
        self.assertEqual(kinds, {"internal only", "external", "externalTLSVerify",
                                 "customSAN", "quirk"})

    def test_client_cert_validity_and_chain(self):
        ca = x509.load_pem_x509_certificate(self.sim.ca_pem)
        uid = available()[0]["metadata"]["uid"]
        keys = set()
        for duration, days, method in ((1, 1, "POST"), (30, 30, "POST"), (1825, 1825, "POST"),
                                       (-1, 1825, "POST"), (None, 1825, "GET")):
            before = int(time.time())
            if method == "GET":     # the deprecated form, no body
                status, _, body = self.sim.request(
                    "GET", "%s/clusters/%s/clustercert" % (self.sim.base, uid))
            else:
                status, _, body = self.sim.clustercert(uid, {"duration": duration})
            self.assertEqual(status, 200, body)
            cert, key = load_client(json.loads(body))
            nb, na = cert.not_valid_before, cert.not_valid_after
            self.assertEqual(na - nb, datetime.timedelta(days=days), duration)
            self.assertEqual(nb.microsecond, 0)
            self.assertTrue(before - 1 <= nb.replace(tzinfo=datetime.timezone.utc).timestamp()
                            <= time.time() + 1)
            self.assertEqual(cert.issuer, ca.subject)
            ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                   ec.ECDSA(cert.signature_hash_algorithm))
            self.assertEqual(
                cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value,
                "system:masters")
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            self.assertIn(ExtendedKeyUsageOID.CLIENT_AUTH, list(eku))
            self.assertIsInstance(key, ec.EllipticCurvePrivateKey)
            self.assertEqual(key.curve.name, "secp256r1")
            self.assertEqual(key.public_key().public_numbers(),
                             cert.public_key().public_numbers())
            keys.add(key.private_numbers().private_value)
        self.assertEqual(len(keys), 5)      # a different key every time

    def test_invalid_duration(self):
        uid = available()[0]["metadata"]["uid"]
        for body in ({"duration": 0}, {"duration": 1826}, {"duration": -2},
                     {"duration": "30"}, {"duration": 30.0}, {"duration": True}, {},
                     [30], "not json"):
            status, headers, data = self.sim.clustercert(uid, body)
            self.assertEqual(status, 400, body)
            self.assert_json_headers(headers)
            err = json.loads(data)
            self.assertEqual(set(err), STATUS_KEYS)
            self.assertEqual((err["code"], err["errorCode"], err["reason"]),
                             (400, "CCE.01400001", "BadRequest"))

    def test_cluster_not_available(self):
        for c in FLEET:
            phase = c["status"]["phase"]
            if phase == "Available":
                continue
            status, _, data = self.sim.clustercert(c["metadata"]["uid"])
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(data)["message"], "cluster %s is %s, not Available"
                             % (c["metadata"]["name"], phase))


class ErrorTest(SimTestCase):
    def test_unauthorized(self):
        for token in (None, "wrong"):
            status, headers, data = self.sim.request("GET", self.sim.base + "/clusters",
                                                     token=token)
            self.assertEqual(status, 401)
            self.assert_json_headers(headers)
            self.assertEqual(json.loads(data), {"errorMessage": "Authorization failed.",
                                                "errorCode": "CCE.01401001"})

    def test_forbidden_project(self):
        status, _, data = self.sim.request("GET", "/api/v3/projects/%s/clusters" % ("f" * 32))
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(data), {"errorMessage": "Forbidden.",
                                            "errorCode": "CCE.01403001"})

    def test_unknown_cluster(self):
        missing = "00000000-0000-4000-8000-000000000000"
        for status, _, data in (self.sim.clustercert(missing),
                                self.sim.request("GET", "%s/clusters/%s"
                                                 % (self.sim.base, missing))):
            self.assertEqual(status, 404)
            self.assertEqual(json.loads(data), {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "code": 404, "errorCode": "CCE.01404001", "errorMessage": "Resource not found.",
                "error_code": "CCE_CM.0003", "error_msg": "Resource not found",
                "message": "cluster %s not found" % missing, "reason": "NotFound"})

    def test_unknown_path(self):
        for method, path in (("GET", "/nothing"), ("GET", "/api/v3/projects/x/nodes"),
                             ("DELETE", self.sim.base + "/clusters")):
            status, headers, data = self.sim.request(method, path)
            self.assertEqual(status, 404)
            self.assert_json_headers(headers, request_id=False)
            err = json.loads(data)
            self.assertEqual(err["error_code"], "APIG.0101")
            self.assertRegex(err["request_id"], r"^[0-9a-f-]{36}$")


class FaultTest(SimTestCase):
    def uid(self, n=0):
        return available()[n]["metadata"]["uid"]

    def test_status_kinds_in_every_format(self):
        for status in (400, 401, 403, 404, 409, 429, 500, 502, 503, 504):
            for fmt in ("status", "cce", "cm", "apig"):
                self.sim.fault(route="clustercert", kind=str(status), format=fmt)
                got, headers, data = self.sim.clustercert(self.uid())
                self.assertEqual(got, status, (status, fmt))
                self.assert_json_headers(headers, request_id=fmt != "apig")
                err = json.loads(data)
                code = "CCE.02429001" if status == 429 else "CCE.01%d001" % status
                if fmt == "status":
                    self.assertEqual(set(err), STATUS_KEYS)
                    self.assertEqual((err["code"], err["errorCode"]), (status, code))
                elif fmt == "cce":
                    self.assertEqual(set(err), {"errorMessage", "errorCode"})
                    self.assertEqual(err["errorCode"], code)
                elif fmt == "cm":
                    self.assertEqual(err["errorCode"], "E.CFE.4000201")
                    self.assertEqual(err["error_code"], "CCE_CM.0201")
                else:
                    self.assertEqual(err["error_code"], "APIG.0101")
                    self.assertIn("request_id", err)
                self.assertEqual(headers["Retry-After"], "1" if status == 429 else None)
        # Each rule was used up by its one request.
        self.assertEqual(self.sim.clustercert(self.uid())[0], 200)

    def test_retry_after(self):
        self.sim.fault(kind="429", retry_after=9)
        status, headers, _ = self.sim.request("GET", self.sim.base + "/clusters")
        self.assertEqual((status, headers["Retry-After"]), (429, "9"))
        self.sim.control("config", {"retry_after": 4})
        self.sim.fault(kind="429")
        status, headers, _ = self.sim.request("GET", self.sim.base + "/clusters")
        self.assertEqual((status, headers["Retry-After"]), (429, "4"))

    def test_reset(self):
        self.sim.fault(route="clustercert", kind="reset")
        with self.assertRaises(ConnectionResetError):
            self.sim.clustercert(self.uid())
        self.assertEqual(self.sim.clustercert(self.uid())[0], 200)

    def test_truncate(self):
        self.sim.fault(route="clustercert", kind="truncate")
        conn = self.sim.connect()
        try:
            conn.request("POST", "%s/clusters/%s/clustercert" % (self.sim.base, self.uid()),
                         body='{"duration": 30}', headers={"X-Auth-Token": self.sim.info["token"]})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            length = int(resp.headers["Content-Length"])
            with self.assertRaises(http.client.IncompleteRead) as caught:
                resp.read()
            self.assertEqual(len(caught.exception.partial), length // 2)
            self.assertGreater(length, 1000)    # the real kubeconfig, cut in half
        finally:
            conn.close()

    def test_malformed(self):
        self.sim.fault(route="clusters", kind="malformed")
        status, headers, data = self.sim.request("GET", self.sim.base + "/clusters")
        self.assertEqual((status, data), (200, b'{"kind": "Config", "clusters": ['))
        self.assertEqual(int(headers["Content-Length"]), len(data))
        self.assertRaises(ValueError, json.loads, data)

    def test_html(self):
        self.sim.fault(kind="html")
        status, headers, data = self.sim.request("GET", self.sim.base + "/clusters")
        self.assertEqual(status, 502)
        self.assertEqual(headers["Content-Type"], "text/html")
        self.assertIn(b"<h1>502 Bad Gateway</h1>", data)
        self.assertIn(b"nginx", data)

    def test_empty(self):
        self.sim.fault(kind="empty")
        self.sim.fault(kind="empty", status=504)
        for want in (502, 504):
            status, headers, data = self.sim.request("GET", self.sim.base + "/clusters")
            self.assertEqual((status, data, headers["Content-Length"]), (want, b"", "0"))

    def test_slow(self):
        self.sim.fault(route="cluster", kind="slow", seconds=0.4)
        started = time.monotonic()
        status, _, _ = self.sim.request("GET", "%s/clusters/%s" % (self.sim.base, self.uid()))
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)

    def test_matching_count_and_order(self):
        a, b = self.uid(0), self.uid(1)
        self.sim.fault(route="clustercert", cluster=b, kind="503", count=2)
        self.sim.fault(route="any", kind="500")
        self.sim.fault(route="clustercert", kind="409")
        # Only `b` matches the first rule; the `any` rule comes before the 409 one.
        self.assertEqual(self.sim.clustercert(a)[0], 500)
        self.assertEqual(self.sim.clustercert(b)[0], 503)
        self.assertEqual(self.sim.clustercert(a)[0], 409)
        self.assertEqual(self.sim.clustercert(b)[0], 503)
        self.assertEqual(self.sim.clustercert(b)[0], 200)

    def test_queued_before_auth_random_after(self):
        self.sim.fault(kind="503")
        self.assertEqual(self.sim.request("GET", self.sim.base + "/clusters", token="bad")[0],
                         503)
        self.sim.control("config", {"rates": {"503": 1.0}})
        self.assertEqual(self.sim.request("GET", self.sim.base + "/clusters", token="bad")[0],
                         401)
        self.assertEqual(self.sim.request("GET", self.sim.base + "/clusters")[0], 503)
        self.sim.control("config", {"rates": {"reset": 1.0}})
        with self.assertRaises(ConnectionResetError):
            self.sim.request("GET", self.sim.base + "/clusters")

    def test_random_rates_are_seeded(self):
        self.sim.control("config", {"rates": {"503": 0.3, "429": 0.2}})

        def run():
            self.sim.control("reset", {})
            return [self.sim.request("GET", self.sim.base + "/clusters")[0] for _ in range(40)]
        first = run()
        self.assertEqual(run(), first)
        self.assertEqual(set(first), {200, 429, 503})

    def test_latency(self):
        self.sim.control("config", {"latency_ms": 300})
        started = time.monotonic()
        self.sim.control("stats")
        self.assertLess(time.monotonic() - started, 0.25)     # not on /_sim
        self.sim.request("GET", self.sim.base + "/clusters")
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_bad_rules_refused(self):
        for rule in ({"kind": "418"}, {"kind": "503", "route": "nodes"},
                     {"kind": "503", "count": 0}, {"kind": "503", "format": "xml"}):
            status, _, _ = self.sim.request("POST", "/_sim/faults", body=rule, token=None)
            self.assertEqual(status, 400, rule)
        status, _, _ = self.sim.request("POST", "/_sim/config", body={"rates": {"503": 2}},
                                        token=None)
        self.assertEqual(status, 400)


class HostileAnswerTest(SimTestCase):
    """The hostile-answer kinds: each changes exactly what it says, once, for its cluster."""

    def answer(self, kind, **extra):
        uid = available()[0]["metadata"]["uid"]
        self.sim.fault(route="clustercert", cluster=uid, kind=kind, **extra)
        status, _, body = self.sim.clustercert(uid)
        self.assertEqual(status, 200, body)
        # Used up: the next answer is the regular one again.
        status, _, regular = self.sim.clustercert(uid)
        self.assertEqual(status, 200)
        load_client(json.loads(regular))
        return body

    def user(self, body):
        return json.loads(body)["users"][0]["user"]

    def test_bad_certificates(self):
        self.assertEqual(self.user(self.answer("bad-base64"))["client-certificate-data"],
                         "!!!not base64!!!")
        data = base64.b64decode(self.user(self.answer("not-cert"))["client-certificate-data"])
        self.assertNotIn(b"BEGIN", data)
        self.assertRaises(ValueError, x509.load_pem_x509_certificate, data)
        cert, key = load_client(json.loads(self.answer("wrong-key")))
        self.assertNotEqual(key.public_key().public_numbers(), cert.public_key().public_numbers())
        cert, key = load_client(json.loads(self.answer("expired")))
        self.assertEqual(key.public_key().public_numbers(), cert.public_key().public_numbers())
        now = datetime.datetime.utcnow()
        self.assertLess(cert.not_valid_after, now - datetime.timedelta(days=9))
        self.assertGreater(cert.not_valid_after, cert.not_valid_before)

    def test_duplicate_keys(self):
        body = self.answer("dup-keys")
        pairs = []
        json.loads(body, object_pairs_hook=lambda kv: pairs.extend(k for k, _ in kv) or dict(kv))
        self.assertEqual(body.count(b'"server": '), pairs.count("server"))
        first = json.loads(body)["clusters"][0]["cluster"]
        self.assertEqual(first["server"], "https://attacker.sim.invalid:5443")   # the last one
        self.assertEqual(body.count(b"attacker.sim.invalid"), 1)

    def test_foreign_credentials(self):
        user = self.user(self.answer("exec"))
        self.assertEqual(user["exec"]["command"], "/bin/sh")
        self.assertEqual(user["exec"]["args"][0], "-c")
        self.assertIn("client-key-data", user)
        self.assertEqual(self.user(self.answer("auth-provider"))["auth-provider"]["name"], "oidc")
        self.assertEqual(self.user(self.answer("token"))["token"], "sim-planted-token")
        user = self.user(self.answer("key-file"))
        self.assertEqual(user["client-key"], "/etc/shadow")
        self.assertNotIn("client-key-data", user)
        self.assertEqual(self.user(self.answer("key-file", path="/dev/zero"))["client-key"],
                         "/dev/zero")

    def test_connections(self):
        for entry in json.loads(self.answer("proxy-url"))["clusters"]:
            self.assertEqual(entry["cluster"]["proxy-url"], "http://127.0.0.1:9")
        for entry in json.loads(self.answer("http-server"))["clusters"]:
            self.assertTrue(entry["cluster"]["server"].startswith("http://127.0.0."))

    def test_rate(self):
        # As a random fault, on every route: clustercert answers turn hostile, the list not.
        self.sim.control("config", {"rates": {"token": 1.0}})
        uid = available()[0]["metadata"]["uid"]
        status, _, body = self.sim.clustercert(uid)
        self.assertEqual(self.user(body)["token"], "sim-planted-token")
        self.assertEqual(len(self.sim.get_json(self.sim.base + "/clusters")["items"]), len(FLEET))

    def test_duplicate_name(self):
        self.sim.fault(route="clusters", kind="dup-name")
        items = self.sim.get_json(self.sim.base + "/clusters")["items"]
        first, second = [c for c in items if c["status"]["phase"] == "Available"][:2]
        self.assertEqual(first["metadata"]["name"], second["metadata"]["name"])
        self.assertNotEqual(first["metadata"]["uid"], second["metadata"]["uid"])
        items = self.sim.get_json(self.sim.base + "/clusters")["items"]
        self.assertEqual(len({c["metadata"]["name"] for c in items}), len(items))

    def test_control_characters(self):
        self.sim.fault(route="clusters", kind="ctl-name")
        items = self.sim.get_json(self.sim.base + "/clusters")["items"]
        first = [c for c in items if c["status"]["phase"] == "Available"][0]
        self.assertEqual(first["metadata"]["name"], FLEET[0]["metadata"]["name"]
                         + "\x1b]0;pwned\x07\x1b[2J\x9b")
        for fmt, key in (("status", "message"), ("cce", "errorMessage")):
            self.sim.fault(route="clusters", kind="400", format=fmt, message="red \x1b[31m")
            status, _, body = self.sim.request("GET", self.sim.base + "/clusters")
            self.assertEqual((status, json.loads(body)[key]), (400, "red \x1b[31m"))

    def test_bad_rules(self):
        for rule in ({"kind": "exec", "route": "clusters"}, {"kind": "400", "message": 3}, {"kind": "dup-name", "route": "cluster"},
                     {"kind": "key-file", "path": ""}):
            status, _, _ = self.sim.request("POST", "/_sim/faults", body=rule, token=None)
            self.assertEqual(status, 400, rule)


class StatsTest(SimTestCase):
    def test_stats_counting(self):
        uid = available()[0]["metadata"]["uid"]
        self.sim.fault(route="cluster", kind="503")
        t0 = time.time()
        self.sim.request("GET", self.sim.base + "/clusters")
        self.sim.request("GET", self.sim.base + "/clusters", token="bad")
        self.sim.request("GET", "%s/clusters/%s" % (self.sim.base, uid))
        self.sim.clustercert(uid)
        self.sim.clustercert(uid, {"duration": 0})
        self.sim.request("GET", "/nowhere")
        stats = self.sim.control("stats")
        self.assertEqual(stats["total"], 6)
        self.assertEqual(stats["requests"], {"clusters": 2, "cluster": 1, "clustercert": 2,
                                             "apiserver": 0, "other": 1, "iam-tokens": 0,
                                             "iam-projects": 0})
        self.assertEqual([(e["method"], e["route"], e["cluster"], e["status"], e["fault"])
                          for e in stats["log"]],
                         [("GET", "clusters", None, 200, None),
                          ("GET", "clusters", None, 401, None),
                          ("GET", "cluster", uid, 503, "503"),
                          ("POST", "clustercert", uid, 200, None),
                          ("POST", "clustercert", uid, 400, None),
                          ("GET", "other", None, 404, None)])
        for entry in stats["log"]:
            self.assertTrue(t0 - 1 <= entry["t"] <= time.time())
        self.sim.control("reset", {})
        self.assertEqual(self.sim.control("stats"),
                         {"total": 0, "log": [], "requests": dict.fromkeys(ROUTES, 0)})

    def test_reset_fault_logged_without_status(self):
        self.sim.fault(kind="reset")
        with self.assertRaises(ConnectionResetError):
            self.sim.request("GET", self.sim.base + "/clusters")
        entry = self.sim.control("stats")["log"][0]
        self.assertEqual((entry["status"], entry["fault"]), (None, "reset"))


def api_get(sim, host, path, cert_files=None):
    """(status, decoded JSON) of GET path on the API server stand-in, with a client certificate."""
    context = ssl.create_default_context(cafile=sim.info["ca_file"])
    if cert_files:
        context.load_cert_chain(*cert_files)
    conn = http.client.HTTPSConnection(host, sim.api_port, context=context, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


class APIServerTest(SimTestCase):
    def api_request(self, host, path, cert_files=None):
        return api_get(self.sim, host, path, cert_files)

    def test_requires_client_certificate(self):
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.api_request("127.0.0.1", "/version")

    def test_version_with_fetched_certificate(self):
        uid = available()[0]["metadata"]["uid"]
        _, _, body = self.sim.clustercert(uid)
        user = json.loads(body)["users"][0]["user"]
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for name in ("client-certificate-data", "client-key-data"):
                path = os.path.join(tmp, name)
                with open(path, "wb") as f:
                    f.write(base64.b64decode(user[name]))
                files.append(path)
            for host in ("127.0.0.1", "127.0.0.2"):
                status, version = self.api_request(host, "/version", files)
                self.assertEqual(status, 200)
                self.assertEqual((version["major"], version["minor"], version["gitVersion"]),
                                 ("1", "28", "v1.28.3"))
            status, err = self.api_request("127.0.0.1", "/api/v1/pods", files)
            self.assertEqual((status, err["kind"], err["reason"]), (404, "Status", "NotFound"))
        self.assertEqual(self.sim.control("stats")["requests"]["apiserver"], 3)


class RejectDeleteTest(unittest.TestCase):
    """/api, /apis, /_sim/reject and /_sim/delete, on a simulator of their own (deletions last)."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator("--projects", "2", "--clusters", "6")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def cert_files(self, tmp, cluster_id):
        status, _, body = self.sim.clustercert(cluster_id)
        self.assertEqual(status, 200)
        user = json.loads(body)["users"][0]["user"]
        files = []
        for name in ("client-certificate-data", "client-key-data"):
            path = os.path.join(tmp, "%s-%s" % (cluster_id, name))
            with open(path, "wb") as f:
                f.write(base64.b64decode(user[name]))
            files.append(path)
        return files

    def api(self, path, files):
        return api_get(self.sim, "127.0.0.1", path, files)

    def listing(self, project):
        return {c["metadata"]["uid"]: c["metadata"]["name"] for c in self.sim.get_json(
            "/api/v3/projects/%s/clusters" % project)["items"]}

    def test_api_reject_and_undo(self):
        ids = [c for c in self.listing(self.sim.info["project_id"])]
        victim, other = ids[0], ids[1]
        with tempfile.TemporaryDirectory() as tmp:
            early = self.cert_files(tmp, victim)
            good = self.cert_files(tmp, other)
            status, body = self.api("/api", early)
            self.assertEqual((status, body["kind"], body["versions"]), (200, "APIVersions", ["v1"]))
            status, body = self.api("/apis", early)
            self.assertEqual((status, body["kind"], body["groups"]), (200, "APIGroupList", []))
            self.sim.control("reject", {"cluster": victim})
            late = self.cert_files(tmp, victim)
            for files in (early, late):     # issued before and after the reject alike
                status, body = self.api("/api", files)
                self.assertEqual((status, body["kind"], body["reason"]), (401, "Status", "Unauthorized"))
            self.assertEqual(self.api("/api", good)[0], 200)
            self.sim.control("reject", {"cluster": victim, "reject": False})
            self.assertEqual(self.api("/version", late)[0], 200)

    def test_delete(self):
        projects = [p["id"] for p in self.sim.info["projects"]]
        first, second = self.listing(projects[0]), self.listing(projects[1])
        victim = sorted(first)[2]
        self.sim.control("delete", {"cluster": victim})
        after = self.listing(projects[0])
        self.assertNotIn(victim, after)
        self.assertEqual(set(after), set(first) - {victim})
        self.assertEqual(self.listing(projects[1]), second)
        status, _, _ = self.sim.request("GET", "/api/v3/projects/%s/clusters/%s" % (projects[0], victim))
        self.assertEqual(status, 404)
        status, _, _ = self.request_cert(projects[0], victim)
        self.assertEqual(status, 404)
        status, _, _ = self.request_cert(projects[0], sorted(after)[0])
        self.assertIn(status, (200, 400))   # an existing cluster still answers (400: not Available)
        with self.assertRaises(AssertionError):
            self.sim.control("delete", {"cluster": victim})

    def request_cert(self, project, cluster_id):
        return self.sim.request("POST", "/api/v3/projects/%s/clusters/%s/clustercert" % (project, cluster_id),
                                body={"duration": 1})


# --------------------------------------------------------------------------- IAM, AK/SK

sys.path.insert(0, os.path.dirname(SIM))
import ccesim  # noqa: E402  (the verifier's functions, checked against the documented vectors)

AK = "SIMAKEXAMPLE0000000"
SK = "sim-secret-key-0000000000000000000000000"
SIGN_FAIL = "Incorrect IAM authentication information: verify aksk signature fail"
DATE_EXPIRED = ("Incorrect IAM authentication information: x-sdk-date expired (the request "
                "time differs from the server time by more than 15 minutes)")
WRONG_PASSWORD = {"error_msg": "The username or password is wrong.", "error_code": "IAM.0001"}


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def sign(method, target, headers, body=b"", ak=AK, sk=SK, signed=None):
    """The test's own SDK-HMAC-SHA256 signer: adds Authorization to `headers`, signing
    the names in `signed` (default: all of them). Paths and queries here need no encoding."""
    path, _, query = target.partition("?")
    names = sorted(n.lower() for n in (signed or headers))
    lower = {k.lower(): v for k, v in headers.items()}
    canonical = "%s\n%s\n%s\n%s\n%s\n%s" % (
        method, path if path.endswith("/") else path + "/",
        "&".join(sorted(p if "=" in p else p + "=" for p in query.split("&") if p)),
        "".join("%s:%s\n" % (n, lower[n].strip()) for n in names), ";".join(names),
        sha256_hex(body))
    to_sign = "SDK-HMAC-SHA256\n%s\n%s" % (lower["x-sdk-date"], sha256_hex(canonical.encode()))
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (
        ak, ";".join(names), signature)
    return headers


def sdk_date(offset=0):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))


class SigningVectorTest(unittest.TestCase):
    """The simulator's verifier against the three vectors of shared/CCE_API.md."""

    def test_vector_with_three_headers(self):
        headers = {"content-type": "application/json", "host": "service.region.example.com",
                   "x-sdk-date": "20191115T033655Z"}
        canonical = ccesim.canonical_request(
            "GET", "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
            "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0", headers,
            ["content-type", "host", "x-sdk-date"], b"")
        self.assertEqual(sha256_hex(canonical.encode()),
                         "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a")
        self.assertEqual(ccesim.request_signature(
            "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "20191115T033655Z", canonical),
            "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe")

    def test_vector_get_and_post(self):
        headers = {"x-sdk-date": "20060102T150405Z"}
        for method, query, body, expected in (
                ("GET", "limit=1", b"",
                 "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"),
                ("POST", "key=value", b'{"Name":"test","Id":1}\n',
                 "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59")):
            canonical = ccesim.canonical_request(method, "/path", query, headers,
                                                 ["x-sdk-date"], body)
            self.assertEqual(ccesim.request_signature("SecretKey", "20060102T150405Z",
                                                      canonical), expected)

    def test_encoding(self):
        self.assertEqual(ccesim.canonical_uri("/a b/%7e%2f/x*"), "/a%20b/~%2F/x%2A/")
        self.assertEqual(ccesim.canonical_uri("/"), "/")
        self.assertEqual(ccesim.canonical_uri("/v3/projects/"), "/v3/projects/")
        self.assertEqual(ccesim.canonical_query("b=2&a=%2f&a=1&&c&n=eu-de_p1+x"),
                         "a=%2F&a=1&b=2&c=&n=eu-de_p1%2Bx")
        self.assertEqual(ccesim.canonical_query(""), "")


class IAMTestCase(unittest.TestCase):
    """Against a simulator of 3 projects x 5 clusters, an extra and a disabled project."""
    args = ("--projects", "3", "--clusters", "5", "--extra-project", "eu-nl",
            "--disabled-project", "eu-de_off")

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(*cls.args)
        cls.ids = {p["name"]: p["id"] for p in cls.sim.info["projects"]}
        cls.lifetime = cls.sim.control("config", {})["token_lifetime"]     # --token-lifetime

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.control("reset", {})
        self.sim.control("config", {"token_lifetime": self.lifetime, "clock_skew_s": 0})

    def login(self, scope=None, user=None, password="sim-password", totp=None, query="",
              methods=None):
        ident = {"methods": methods or (["password", "totp"] if totp else ["password"]),
                 "password": {"user": dict(user or {"name": "sim-user", "domain": {
                     "name": "OTC00000000001000000001"}}, password=password)}}
        if totp:
            ident["totp"] = {"user": totp}
        auth = {"identity": ident}
        if scope is not None:
            auth["scope"] = scope
        status, headers, body = self.sim.request("POST", "/v3/auth/tokens" + query,
                                                 body={"auth": auth}, token=None)
        return status, headers, json.loads(body)

    def token_for(self, name):
        status, headers, _ = self.login({"project": {"id": self.ids[name]}}, query="?nocatalog=true")
        self.assertEqual(status, 201)
        return headers["X-Subject-Token"]

    def clusters(self, name, **kw):
        return self.sim.request("GET", "/api/v3/projects/%s/clusters" % self.ids[name], **kw)

    def signed(self, method, target, body=b"", headers=None, **kw):
        hdrs = {"Content-Type": "application/json", "Host": "%s:%d" % (self.sim.host, self.sim.port),
                "X-Sdk-Date": sdk_date()}
        hdrs.update(headers or {})
        sign(method, target, hdrs, body, **kw)
        return self.sim.request(method, target, body=body, token=None, headers=hdrs)


class ProjectsTest(IAMTestCase):
    def test_info_and_fleets(self):
        info = self.sim.info
        self.assertEqual(info["auth_url"], info["endpoint"] + "/v3")
        self.assertEqual((info["user"], info["password"], info["domain"], info["ak"], info["sk"]),
                         ("sim-user", "sim-password", "OTC00000000001000000001", AK, SK))
        self.assertNotIn("passcode", info)
        self.assertNotIn("security_token", info)
        self.assertEqual([(p["name"], p["enabled"]) for p in info["projects"]],
                         [("eu-de", True), ("eu-de_p1", True), ("eu-de_p2", True),
                          ("eu-nl", True), ("eu-de_off", False)])
        self.assertEqual(self.ids["eu-de"], info["project_id"])
        for project in info["projects"]:
            self.assertRegex(project["id"], r"^[0-9a-f]{32}$")
        fleets = {}
        for name in ("eu-de", "eu-de_p1", "eu-de_p2"):     # the static token: every project
            status, _, body = self.clusters(name)
            self.assertEqual(status, 200)
            fleets[name] = json.loads(body)["items"]
        names = [[c["metadata"]["name"] for c in f] for f in fleets.values()]
        self.assertEqual(names[0], names[1])
        self.assertEqual(names[0], names[2])
        uids = [c["metadata"]["uid"] for f in fleets.values() for c in f]
        self.assertEqual(len(set(uids)), 15)
        # The first project's fleet is the one a single-project simulator of that seed has.
        self.assertEqual([c["metadata"]["uid"] for c in fleets["eu-de"]],
                         [c["metadata"]["uid"] for c in FLEET[:5]])
        self.assertEqual(json.loads(self.clusters("eu-nl")[2])["items"], [])
        self.assertEqual(self.clusters("eu-de_off")[0], 403)
        # A cluster is found in its own project only.
        uid = fleets["eu-de_p1"][0]["metadata"]["uid"]
        for name, expected in (("eu-de_p1", 200), ("eu-de", 404)):
            status, _, _ = self.sim.request("GET", "/api/v3/projects/%s/clusters/%s"
                                            % (self.ids[name], uid))
            self.assertEqual(status, expected)
        status, _, body = self.sim.request(
            "POST", "/api/v3/projects/%s/clusters/%s/clustercert" % (self.ids["eu-de_p1"], uid),
            body={"duration": 1})
        self.assertEqual(status, 200, body)

    def test_listings(self):
        token = self.token_for("eu-de_p2")
        status, headers, body = self.sim.request("GET", "/v3/auth/projects", token=token)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        projects = json.loads(body)["projects"]
        self.assertEqual([p["name"] for p in projects],
                         ["eu-de", "eu-de_p1", "eu-de_p2", "eu-nl", "eu-de_off"])
        self.assertEqual(projects[4], {"id": self.ids["eu-de_off"], "name": "eu-de_off",
                                       "enabled": False, "domain_id": self.sim.info["domain_id"],
                                       "description": ""})
        status, _, body = self.sim.request("GET", "/v3/projects?name=eu-nl", token=token)
        self.assertEqual((status, [p["id"] for p in json.loads(body)["projects"]]),
                         (200, [self.ids["eu-nl"]]))
        status, _, body = self.signed("GET", "/v3/projects?name=eu-de_p1")
        self.assertEqual((status, [p["name"] for p in json.loads(body)["projects"]]),
                         (200, ["eu-de_p1"]))
        status, _, body = self.signed("GET", "/v3/projects?name=nope")
        self.assertEqual((status, json.loads(body)["projects"]), (200, []))
        for token in (None, "MIIsim-forged"):
            status, _, body = self.sim.request("GET", "/v3/auth/projects", token=token)
            self.assertEqual((status, json.loads(body)["error_code"]), (401, "IAM.0106"))
        stats = self.sim.control("stats")
        self.assertEqual((stats["requests"]["iam-projects"], stats["requests"]["iam-tokens"]),
                         (6, 1))
        self.assertEqual([e.get("auth") for e in stats["log"] if e["route"] == "iam-projects"],
                         ["token", "token", "aksk", "aksk", None, None])


class LoginTest(IAMTestCase):
    def test_password_login(self):
        self.sim.control("config", {"token_lifetime": 600})
        before = time.time()
        status, headers, body = self.login({"project": {"id": self.ids["eu-de_p1"]}},
                                           query="?nocatalog=true")
        self.assertEqual(status, 201, body)
        token = headers["X-Subject-Token"]
        self.assertRegex(token, r"^\S{64,}$")
        doc = body["token"]
        self.assertNotIn("catalog", doc)
        self.assertEqual(doc["methods"], ["password"])
        self.assertEqual(doc["project"]["id"], self.ids["eu-de_p1"])
        self.assertEqual(doc["project"]["name"], "eu-de_p1")
        self.assertEqual((doc["user"]["id"], doc["user"]["name"], doc["user"]["domain"]["name"]),
                         (self.sim.info["user_id"], "sim-user", "OTC00000000001000000001"))
        expires = datetime.datetime.strptime(doc["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertTrue(before + 599 <= expires <= time.time() + 601, doc["expires_at"])
        self.assertTrue(doc["issued_at"].endswith("Z"))
        # The token is good for its project and forbidden on the others.
        self.assertEqual(self.clusters("eu-de_p1", token=token)[0], 200)
        for name in ("eu-de", "eu-de_p2", "eu-nl"):
            status, _, body = self.clusters(name, token=token)
            self.assertEqual((status, json.loads(body)["errorCode"]), (403, "CCE.01403001"))
        log = self.sim.control("stats")["log"]
        self.assertEqual([(e["route"], e.get("project"), e.get("auth"), e["status"]) for e in log],
                         [("iam-tokens", None, None, 201),
                          ("clusters", self.ids["eu-de_p1"], "token", 200),
                          ("clusters", self.ids["eu-de"], "token", 403),
                          ("clusters", self.ids["eu-de_p2"], "token", 403),
                          ("clusters", self.ids["eu-nl"], "token", 403)])

    def test_catalog_and_other_forms(self):
        user_id = self.sim.info["user_id"]
        status, _, body = self.login({"project": {"name": "eu-de", "domain": {
            "name": "OTC00000000001000000001"}}}, user={"id": user_id})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["token"]["project"]["id"], self.ids["eu-de"])
        cce = [s for s in body["token"]["catalog"] if s["type"] == "ccev2.0"]
        self.assertEqual(cce[0]["endpoints"], [{
            "interface": "public", "region": "eu-de", "region_id": "eu-de",
            "url": self.sim.info["endpoint"], "id": cce[0]["endpoints"][0]["id"]}])
        self.assertEqual([s["type"] for s in body["token"]["catalog"]], ["ccev2.0", "identity"])
        # A domain-scoped token lists projects and nothing else.
        status, headers, body = self.login({"domain": {"name": "OTC00000000001000000001"}})
        self.assertEqual(status, 201, body)
        self.assertNotIn("project", body["token"])
        token = headers["X-Subject-Token"]
        self.assertEqual(self.sim.request("GET", "/v3/auth/projects", token=token)[0], 200)
        self.assertEqual(self.clusters("eu-de", token=token)[0], 403)

    def test_refused_logins(self):
        domain = {"name": "OTC00000000001000000001"}
        project = {"project": {"id": self.ids["eu-de"]}}
        for kw in ({"password": "wrong"}, {"user": {"name": "nobody", "domain": domain}},
                   {"user": {"name": "sim-user", "domain": {"name": "OTC0000000000100000000X"}}},
                   {"user": {"id": "0" * 32}}):
            status, headers, body = self.login(project, **kw)
            self.assertEqual((status, body), (401, WRONG_PASSWORD), kw)
            self.assertIsNone(headers["X-Subject-Token"])
        for scope in ({"project": {"id": "f" * 32}}, {"project": {"name": "eu-xx"}}):
            status, _, body = self.login(scope)
            self.assertEqual((status, body["error_code"]), (401, "IAM.0103"))
        status, _, body = self.login({"project": {"name": "eu-de_off"}})
        self.assertEqual((status, body["error_code"]), (401, "IAM.0104"))
        status, _, body = self.login(project, methods=["token"])
        self.assertEqual(status, 400)
        status, _, body = self.sim.request("POST", "/v3/auth/tokens", body="{", token=None)
        self.assertEqual((status, json.loads(body)["error_code"]), (400, "IAM.0011"))
        self.assertEqual(self.sim.control("stats")["requests"]["iam-tokens"], 9)

    def test_expiry_and_revocation(self):
        self.sim.control("config", {"token_lifetime": 0})
        expired = self.token_for("eu-de")
        self.sim.control("config", {"token_lifetime": 86400})
        old = self.token_for("eu-de")
        for token in (expired, "MIIsim-forged"):
            status, _, body = self.clusters("eu-de", token=token)
            self.assertEqual((status, json.loads(body)["errorCode"]), (401, "CCE.01401001"))
        self.assertEqual(self.clusters("eu-de", token=old)[0], 200)
        revoked = self.sim.control("revoke", {})
        self.assertTrue(revoked["ok"])
        self.assertGreaterEqual(revoked["revoked"], 2)      # other tests' tokens too
        self.assertEqual(self.clusters("eu-de", token=old)[0], 401)
        self.assertEqual(self.sim.request("GET", "/v3/auth/projects", token=old)[0], 401)
        self.assertEqual(self.clusters("eu-de")[0], 200)         # the static token stays
        new = self.token_for("eu-de")
        self.assertNotEqual(new, old)
        self.assertEqual(self.clusters("eu-de", token=new)[0], 200)

    def test_queued_faults_on_iam_routes(self):
        self.sim.fault(route="iam-tokens", kind="503", format="status")
        self.sim.fault(route="iam-projects", kind="429", retry_after=3)
        status, _, body = self.login({"project": {"name": "eu-de"}})
        self.assertEqual((status, body["code"]), (503, 503))
        status, headers, _ = self.sim.request("GET", "/v3/auth/projects")
        self.assertEqual((status, headers["Retry-After"]), (429, "3"))
        self.assertEqual(self.login({"project": {"name": "eu-de"}})[0], 201)
        self.assertEqual(self.sim.request("GET", "/v3/auth/projects")[0], 200)
        log = self.sim.control("stats")["log"]
        self.assertEqual([(e["route"], e["status"], e["fault"]) for e in log],
                         [("iam-tokens", 503, "503"), ("iam-projects", 429, "429"),
                          ("iam-tokens", 201, None), ("iam-projects", 200, None)])

    def test_bad_config(self):
        for spec in ({"token_lifetime": -1}, {"clock_skew_s": "x"}):
            status, _, _ = self.sim.request("POST", "/_sim/config", body=spec, token=None)
            self.assertEqual(status, 400)


class AkSkTest(IAMTestCase):
    def assert_apigw(self, reply, message):
        status, headers, body = reply
        self.assertEqual(status, 401, body)
        self.assertIsNone(headers["X-Request-Id"])
        err = json.loads(body)
        self.assertEqual((err["error_msg"], err["error_code"]), (message, "APIGW.0301"))
        self.assertRegex(err["request_id"], r"^[0-9a-f-]{36}$")

    def test_signed_requests_pass(self):
        base = "/api/v3/projects/%s" % self.ids["eu-de_p2"]
        status, _, body = self.signed("GET", base + "/clusters")
        self.assertEqual(status, 200, body)
        uid = json.loads(body)["items"][0]["metadata"]["uid"]
        status, _, body = self.signed("POST", "%s/clusters/%s/clustercert" % (base, uid),
                                      body=b'{"duration": 3}')
        self.assertEqual(status, 200, body)
        # Only x-sdk-date signed, and a query in another order than the signer's.
        status, _, body = self.signed("GET", "/v3/projects?name=eu-nl&a=1",
                                      signed=["X-Sdk-Date"])
        self.assertEqual(status, 200, body)
        log = self.sim.control("stats")["log"]
        self.assertEqual([(e["route"], e.get("auth"), e["status"]) for e in log],
                         [("clusters", "aksk", 200), ("clustercert", "aksk", 200),
                          ("iam-projects", "aksk", 200)])

    def test_refused_signatures(self):
        target = "/api/v3/projects/%s/clusters" % self.ids["eu-de"]
        self.assert_apigw(self.signed("GET", target, sk="wrong-secret"), SIGN_FAIL)
        self.assert_apigw(self.signed("GET", target, ak="UNKNOWNAK"), SIGN_FAIL)
        self.assert_apigw(self.signed("GET", target, signed=["Host", "Content-Type"]), SIGN_FAIL)
        for bad in ("2024-01-01", sdk_date()[:-1], "2024111T1200001Z"):
            self.assert_apigw(self.signed("GET", target, headers={"X-Sdk-Date": bad}), SIGN_FAIL)
        # The body is changed after signing.
        uid = json.loads(self.signed("GET", target)[2])["items"][0]["metadata"]["uid"]
        cert = "%s/%s/clustercert" % (target, uid)
        hdrs = {"Content-Type": "application/json", "X-Sdk-Date": sdk_date(),
                "Host": "%s:%d" % (self.sim.host, self.sim.port)}
        sign("POST", cert, hdrs, b'{"duration": 3}')
        self.assert_apigw(self.sim.request("POST", cert, body=b'{"duration": 1825}',
                                           token=None, headers=hdrs), SIGN_FAIL)
        # The query is changed after signing.
        hdrs = {"X-Sdk-Date": sdk_date()}
        sign("GET", "/v3/projects?name=eu-nl", hdrs)
        self.assert_apigw(self.sim.request("GET", "/v3/projects?name=eu-de", token=None,
                                           headers=hdrs), SIGN_FAIL)
        # X-Sdk-Date sent but not signed: a changed date goes unnoticed unless it is signed.
        hdrs = {"X-Sdk-Date": sdk_date(), "Host": "%s:%d" % (self.sim.host, self.sim.port)}
        sign("GET", target, hdrs, signed=["Host"])
        self.assert_apigw(self.sim.request("GET", target, token=None, headers=hdrs), SIGN_FAIL)
        # Unsigned requests without a token are CCE's own 401.
        status, _, body = self.sim.request("GET", target, token=None)
        self.assertEqual((status, json.loads(body)["errorCode"]), (401, "CCE.01401001"))
        self.assertEqual(self.sim.control("stats")["requests"]["clusters"], 9)

    def test_clock_skew(self):
        target = "/api/v3/projects/%s/clusters" % self.ids["eu-de_p1"]
        for offset in (-1200, 1200):
            self.assert_apigw(self.signed("GET", target, headers={"X-Sdk-Date": sdk_date(offset)}),
                              DATE_EXPIRED)
        self.assertEqual(self.signed("GET", target, headers={"X-Sdk-Date": sdk_date(-600)})[0], 200)
        # The simulator's clock 20 minutes ahead: a correct client clock is now off.
        self.sim.control("config", {"clock_skew_s": 1200})
        self.assert_apigw(self.signed("GET", target), DATE_EXPIRED)
        self.assertEqual(self.signed("GET", target, headers={"X-Sdk-Date": sdk_date(1200)})[0],
                         200)
        self.assert_apigw(self.signed("GET", "/v3/auth/projects"), DATE_EXPIRED)


class MFATest(IAMTestCase):
    args = ("--mfa", "--passcode", "654321", "--security-token", "sim-sts-token",
            "--token-lifetime", "3600")

    def test_info(self):
        self.assertEqual((self.sim.info["passcode"], self.sim.info["security_token"]),
                         ("654321", "sim-sts-token"))
        self.assertEqual([p["name"] for p in self.sim.info["projects"]], ["eu-de"])

    def test_totp(self):
        scope = {"project": {"name": "eu-de"}}
        user_id = self.sim.info["user_id"]
        status, _, body = self.login(scope)
        self.assertEqual((status, body), (401, {
            "error_msg": "The verification code (MFA passcode) is required.",
            "error_code": "IAM.0101"}))
        for totp in ({"id": user_id, "passcode": "123456"}, {"id": "0" * 32, "passcode": "654321"}):
            status, _, body = self.login(scope, totp=totp)
            self.assertEqual((status, body["error_msg"]), (401, "The verification code is incorrect."))
        status, headers, body = self.login(scope, totp={"id": user_id, "passcode": "654321"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["token"]["methods"], ["password", "totp"])
        issued = datetime.datetime.strptime(body["token"]["issued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        expires = datetime.datetime.strptime(body["token"]["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        self.assertEqual(round((expires - issued).total_seconds()), 3600)
        self.assertEqual(self.clusters("eu-de", token=headers["X-Subject-Token"])[0], 200)
        self.assertEqual(self.sim.control("stats")["requests"]["iam-tokens"], 4)

    def test_security_token(self):
        target = "/api/v3/projects/%s/clusters" % self.ids["eu-de"]
        status, _, body = self.signed("GET", target)
        self.assertEqual((status, json.loads(body)["error_code"]), (401, "APIGW.0301"))
        status, _, body = self.signed("GET", target, headers={"X-Security-Token": "other"})
        self.assertEqual(status, 401)
        status, _, body = self.signed("GET", target, headers={"X-Security-Token": "sim-sts-token"})
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    socket.setdefaulttimeout(20)
    unittest.main()
