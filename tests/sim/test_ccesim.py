#!/usr/bin/python3
"""Self-test of the CCE simulator (tests/sim/ccesim.py), run as a subprocess.

    /usr/bin/python3 tests/sim/test_ccesim.py [-v]
"""

import base64
import datetime
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
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
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
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


class APIServerTest(SimTestCase):
    def api_request(self, host, path, cert_files=None):
        context = ssl.create_default_context(cafile=self.sim.info["ca_file"])
        if cert_files:
            context.load_cert_chain(*cert_files)
        conn = http.client.HTTPSConnection(host, self.sim.api_port, context=context, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

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


if __name__ == "__main__":
    socket.setdefaulttimeout(20)
    unittest.main()
