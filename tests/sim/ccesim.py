#!/usr/bin/python3
"""CCE simulator: an HTTPS server on loopback that behaves like the Open Telekom Cloud
CCE API (list clusters, read a cluster, issue cluster certificates), plus a stand-in
kube-apiserver that accepts the issued client certificates.

Used by the cceauto tests, benchmarks and the README demo. Standard library plus
python3-cryptography only; it never contacts any address but loopback.

Control API (on the CCE port, no auth, not counted, no latency):
  GET  /_sim/stats    counters and the request log
  POST /_sim/reset    zero counters, clear the log and queued faults, re-seed the fault RNG
  POST /_sim/faults   queue a fault rule, e.g. {"route": "clustercert", "kind": "429", "count": 2}
  POST /_sim/config   {"latency_ms": N, "rates": {"503": 0.05}, "retry_after": S,
                      "clock_skew_s": N, "token_lifetime": S}; "rates" replaces the whole
                      table, {} turns random faults off
  POST /_sim/revoke   every IAM token issued so far stops working (a password change)
  POST /_sim/delete   {"cluster": ID}: the cluster is deleted (gone from the listing, 404)
  POST /_sim/reject   {"cluster": ID[, "reject": false]}: the API server stand-in answers 401
                      to certificates issued for it (or no longer)

IAM (same port, auth_url = ENDPOINT/v3; the user, password, domain, AK/SK and projects are
in the ready line):
  POST /v3/auth/tokens[?nocatalog=true]  password or password+totp login (--mfa makes
                      totp mandatory), scoped to a project (id or name), a domain, or
                      unscoped; 201 with X-Subject-Token, or IAM's {"error_msg", "error_code"}
  GET  /v3/auth/projects, GET /v3/projects[?name=X]   every project (filtered by name)
Tokens expire after --token-lifetime. A project token works on its own project only (403
elsewhere); domain-scoped and unscoped tokens only list projects; the static --token works
everywhere. AK/SK: every route but the login also accepts an SDK-HMAC-SHA256 signature
(X-Sdk-Date signed, within 15 minutes of the clock shifted by clock_skew_s; X-Security-Token
too with --security-token), refused with the gateway's 401 APIGW.0301. --projects N gives N
projects with fleets whose cluster names are the same and uids differ; --extra-project and
--disabled-project add empty ones. Stats routes iam-tokens (every login, refused ones too)
and iam-projects; log entries of CCE routes carry "project" and "auth" (static, token, aksk).

Fault rule fields: route (clustercert|clusters|cluster|iam-tokens|iam-projects|any, default
any: every route, IAM's too), cluster (an id,
default any), kind (400 401 403 404 409 429 500 502 503 504 reset truncate malformed html
empty slow, or a hostile answer below), count (default 1), format (status|cce|cm|apig,
default cce) of the error body, retry_after (429; default the configured one), seconds
(slow; default 1), status (html and empty; default 502), path (key-file; default
/etc/shadow). Queued rules act before auth and validation, first match wins; random faults
(--fault, "rates") act on CCE routes once the credentials are accepted.

Hostile answers: a 200 clustercert answer that is otherwise the real one, except:
  bad-base64     client-certificate-data "!!!not base64!!!"
  not-cert       client-certificate-data is base64 of text that is no certificate
  wrong-key      client-key-data is a key of another certificate
  expired        certificate (and its key) valid from 40 to 10 days ago
  dup-keys       the first cluster has "server" twice, the second an attacker's URL
  exec           the user also runs `/bin/sh -c ...` (an exec plugin)
  auth-provider  the user also has an oidc auth-provider
  token          the user also has a bearer token
  proxy-url      every cluster goes through an http proxy
  key-file       no client-key-data but client-key: PATH (a local file to read)
  http-server    every server is http://
and on the cluster list (route clusters): dup-name gives the second Available cluster the
first one's name, ctl-name appends terminal control sequences to the first one's. A hostile
kind on a route it does not fit answers normally. `message` (status kinds, formats status
and cce) replaces the error message, e.g. with control characters.
"""

import argparse
import base64
import datetime
import email.utils
import hashlib
import hmac
import ipaddress
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ENVS = ("prod", "staging", "dev")
FLAVORS = ("cce.s1.small", "cce.s2.medium")
VERSIONS = ("v1.25.6-r0", "v1.27.4-r0", "v1.28.3-r0", "v1.29.1-r0")
MAX_DAYS = 1825

CCE_ROUTES = ("clusters", "cluster", "clustercert")
IAM_ROUTES = ("iam-tokens", "iam-projects")
ROUTES = CCE_ROUTES + ("apiserver", "other") + IAM_ROUTES
FAULT_ROUTES = CCE_ROUTES + IAM_ROUTES + ("any",)
STATUS_KINDS = ("400", "401", "403", "404", "409", "429", "500", "502", "503", "504")
# Hostile or broken 200 answers to clustercert: what a compromised or buggy endpoint
# could send (see Handler.hostile); "dup-name" acts on the cluster list instead.
ANSWER_KINDS = ("bad-base64", "not-cert", "wrong-key", "expired", "dup-keys", "exec",
                "auth-provider", "token", "proxy-url", "key-file", "http-server")
LIST_KINDS = ("dup-name", "ctl-name")
CTL_NAME = "\x1b]0;pwned\x07\x1b[2J\x9b"   # what "ctl-name" appends: retitle, clear, an 8-bit CSI
FAULT_KINDS = (STATUS_KINDS + ("reset", "truncate", "malformed", "html", "empty", "slow")
               + ANSWER_KINDS + LIST_KINDS)
KEY_FILE = "/etc/shadow"    # what a "key-file" answer names unless the rule says `path`
FORMATS = ("status", "cce", "cm", "apig")
SLOW_SECONDS = 1.0          # delay of a "slow" fault that does not say otherwise

KEY_POOL = 256             # pre-generated client keys, used in turn (see PKI.client_cert)

HANDSHAKE_TIMEOUT = 10      # a client that stalls the TLS handshake loses its thread after this
IDLE_TIMEOUT = 120          # keep-alive connections idle longer than this are closed
MAX_BODY = 1 << 20

# Per status: errorMessage, error_code, error_msg, Kubernetes reason. CCE_CM.0003 and
# CCE_CM.0004 are documented; the other CCE_CM codes are the simulator's own.
ERRORS = {
    400: ("Invalid request.", "CCE_CM.0004", "Request is invalid", "BadRequest"),
    401: ("Authorization failed.", "CCE_CM.0101", "Authorization failed", "Unauthorized"),
    403: ("Forbidden.", "CCE_CM.0103", "Forbidden", "Forbidden"),
    404: ("Resource not found.", "CCE_CM.0003", "Resource not found", "NotFound"),
    409: ("Resource conflict.", "CCE_CM.0009", "Resource conflict", "Conflict"),
    429: ("Throttling threshold has been reached.", "CCE_CM.0429",
          "Too many requests", "TooManyRequests"),
    500: ("Internal error.", "CCE_CM.0500", "Internal error", "InternalError"),
    502: ("Bad gateway.", "CCE_CM.0502", "Bad gateway", "BadGateway"),
    503: ("Service unavailable.", "CCE_CM.0503", "Service unavailable", "ServiceUnavailable"),
    504: ("Gateway timeout.", "CCE_CM.0504", "Gateway timeout", "Timeout"),
}
PHRASES = {code: msg[0] for code, msg in BaseHTTPRequestHandler.responses.items()}

CM_BODY = json.dumps({"error_code": "CCE_CM.0201", "error_msg": "Request body invalid",
                      "message": "Need authorize CCE to operate user resources",
                      "errorCode": "E.CFE.4000201"}).encode()
MALFORMED_BODY = b'{"kind": "Config", "clusters": ['
HTML_PAGE = ("<html>\r\n<head><title>{0} {1}</title></head>\r\n<body>\r\n"
             "<center><h1>{0} {1}</h1></center>\r\n<hr><center>nginx</center>\r\n"
             "</body>\r\n</html>\r\n")
VERSION_BODY = json.dumps({
    "major": "1", "minor": "28", "gitVersion": "v1.28.3", "gitCommit": "0000000",
    "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.21.5",
    "compiler": "gc", "platform": "linux/amd64"}).encode()
KUBE_UNAUTHORIZED = json.dumps({
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}).encode()
API_VERSIONS_BODY = json.dumps({
    "kind": "APIVersions", "versions": ["v1"],
    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:5443"}]}).encode()
API_GROUPS_BODY = json.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}).encode()
KUBE_NOT_FOUND = json.dumps({
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "the server could not find the requested resource", "reason": "NotFound",
    "details": {}, "code": 404}).encode()


# Request ids and serial numbers come from here rather than from os.urandom(), which
# releases the GIL for its syscall: every GIL hand-off is expensive with 32 busy threads.
IDS = random.Random()


def new_uuid():
    return str(uuid.UUID(int=IDS.getrandbits(128), version=4))


class UsageError(Exception):
    """A control-API request or a command-line value that the simulator refuses."""


def cce_error_code(status):
    return "CCE.02429001" if status == 429 else "CCE.01%d001" % status


def status_object(status, message):
    """The full Kubernetes-style Status error that CCE returns for most failures."""
    error_message, cm_code, cm_msg, reason = ERRORS[status]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "code": status, "errorCode": cce_error_code(status),
            "errorMessage": error_message, "error_code": cm_code, "error_msg": cm_msg,
            "message": message, "reason": reason}


class Reply:
    """One HTTP response, written by Handler.write()."""
    __slots__ = ("status", "body", "headers", "content_type", "request_id")

    def __init__(self, status, body, headers=(), content_type="application/json",
                 request_id=True):
        self.status = status
        self.body = body
        self.headers = headers
        self.content_type = content_type
        self.request_id = request_id


def json_reply(status, obj, headers=()):
    return Reply(status, json.dumps(obj).encode(), headers)


def error_reply(status, fmt, message, own_message=None):
    """An error in one of the body formats seen from CCE and its API gateway; own_message
    (a fault rule's) replaces the message of the status and cce formats."""
    message = own_message or message
    if fmt == "status":
        return json_reply(status, status_object(status, message))
    if fmt == "cce":
        return json_reply(status, {"errorMessage": own_message or ERRORS[status][0],
                                   "errorCode": cce_error_code(status)})
    if fmt == "cm":
        return Reply(status, CM_BODY)
    # apig: the gateway puts its request id in the body only
    return Reply(status, json.dumps({
        "error_msg": "The API does not exist or has not been published in the environment",
        "error_code": "APIG.0101", "request_id": new_uuid()}).encode(),
        request_id=False)


# --------------------------------------------------------------------------- IAM and AK/SK

SIGN_ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SDK_DATE_SHAPE = re.compile(r"\d{8}T\d{6}Z\Z")     # strptime alone takes fewer digits
MAX_SDK_SKEW = 15 * 60          # seconds between X-Sdk-Date and the gateway's clock
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
HEX_ESCAPES = ["%%%02X" % b for b in range(256)]

SIGN_FAIL = "Incorrect IAM authentication information: verify aksk signature fail"
DATE_EXPIRED = ("Incorrect IAM authentication information: x-sdk-date expired (the request "
                "time differs from the server time by more than 15 minutes)")
SECURITY_TOKEN_FAIL = ("Incorrect IAM authentication information: the security token "
                       "(X-Security-Token) is missing or wrong")

# IAM's answers to a refused login or listing: (status, error_code, error_msg).
IAM_BAD_BODY = (400, "IAM.0011", "Request body is invalid.")
IAM_WRONG_PASSWORD = (401, "IAM.0001", "The username or password is wrong.")
IAM_MFA_REQUIRED = (401, "IAM.0101", "The verification code (MFA passcode) is required.")
IAM_MFA_WRONG = (401, "IAM.0102", "The verification code is incorrect.")
IAM_NO_PROJECT = (401, "IAM.0103", "The project does not exist or is not accessible.")
IAM_PROJECT_DISABLED = (401, "IAM.0104", "The project is disabled.")
IAM_WRONG_DOMAIN = (401, "IAM.0105", "The domain does not exist or is not accessible.")
IAM_NEEDS_AUTH = (401, "IAM.0106", "The request you have made requires authentication.")


def sign_encode(text):
    """A path segment, query key or value as received (latin-1 text of the raw bytes):
    percent-decoded, then encoded the signer's way (unreserved kept, uppercase hex)."""
    raw = urllib.parse.unquote_to_bytes(text.encode("latin-1"))
    return "".join(chr(b) if b in UNRESERVED else HEX_ESCAPES[b] for b in raw)


def canonical_uri(path):
    uri = "/".join(sign_encode(segment) for segment in path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query):
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((sign_encode(key), sign_encode(value)))
    pairs.sort()
    return "&".join("%s=%s" % pair for pair in pairs)


def canonical_request(method, path, query, headers, signed, body):
    """The canonical request of SDK-HMAC-SHA256. headers maps lowercase names to values
    as received; signed lists the lowercase names in the order the client gave them."""
    block = "".join("%s:%s\n" % (name, headers[name].strip(" \t")) for name in signed)
    return "\n".join((method, canonical_uri(path), canonical_query(query), block,
                      ";".join(signed), hashlib.sha256(body).hexdigest()))


def request_signature(sk, sdk_date, canonical):
    """hex HMAC-SHA256(SK, string to sign) of a canonical request."""
    digest = hashlib.sha256(canonical.encode("latin-1")).hexdigest()
    to_sign = "%s\n%s\n%s" % (SIGN_ALGORITHM, sdk_date, digest)
    return hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def parse_authorization(value):
    """(access key, signed header names, signature) of an SDK-HMAC-SHA256 Authorization
    header; None for a part that is missing."""
    fields = {}
    for part in value[len(SIGN_ALGORITHM):].split(","):
        key, _, item = part.strip().partition("=")
        fields[key] = item.strip()
    signed = fields.get("SignedHeaders")
    return (fields.get("Access") or None,
            [name.lower() for name in signed.split(";")] if signed else None,
            fields.get("Signature") or None)


def parse_sdk_date(value):
    """Unix seconds of an X-Sdk-Date value, None when it is not YYYYMMDDTHHMMSSZ."""
    value = value.strip()
    if not SDK_DATE_SHAPE.match(value):
        return None
    try:
        stamp = datetime.datetime.strptime(value, SDK_DATE_FORMAT)
    except ValueError:
        return None
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def apigw_reply(message):
    """A refusal of the API gateway in front of CCE and IAM (its request id in the body)."""
    return Reply(401, json.dumps({"error_msg": message, "error_code": "APIGW.0301",
                                  "request_id": new_uuid()}).encode(), request_id=False)


def iam_reply(error):
    status, code, message = error
    return json_reply(status, {"error_msg": message, "error_code": code})


def iam_time(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def dig(obj, *keys):
    """obj[k1][k2]..., None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def derived_id(seed, name):
    """The deterministic 32-hex id of a simulated project or user."""
    return hashlib.sha256(("ccesim/%d/%s" % (seed, name)).encode()).hexdigest()[:32]


class Project:
    """One IAM project with its own fleet (possibly empty)."""

    def __init__(self, project_id, name, enabled=True):
        self.id = project_id
        self.name = name
        self.enabled = enabled
        self.clusters = {}
        self.list_body = json.dumps({"kind": "Cluster", "apiVersion": "v3",
                                     "items": []}).encode()


# --------------------------------------------------------------------------- PKI

class PKI:
    """The run's CA and everything it signs."""

    def __init__(self):
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                     "cceauto simulator CA")])
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        ca_public = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(self.ca_name).issuer_name(self.ca_name)
            .public_key(ca_public).serial_number(x509.random_serial_number())
            # back-dated for clock skew; long enough to cover a 1825-day client cert
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=MAX_DAYS + 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_b64 = base64.b64encode(self.ca_pem).decode()
        self.aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public)
        # Built once: every client certificate carries the same extensions.
        self.client_extensions = [
            x509.Extension(x509.BasicConstraints.oid, True,
                           x509.BasicConstraints(ca=False, path_length=None)),
            x509.Extension(x509.KeyUsage.oid, True, x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False)),
            x509.Extension(x509.ExtendedKeyUsage.oid, False,
                           x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])),
            x509.Extension(x509.AuthorityKeyIdentifier.oid, False, self.aki),
        ]
        # Generating a key per request costs a dozen cffi calls, each a GIL hand-off;
        # under 32 concurrent clients that halves the throughput. So client keys come
        # from a pool made at start-up, in turn: consecutive certificates never share a
        # key, and every certificate is newly signed.
        pool = []
        for _ in range(KEY_POOL):
            key = ec.generate_private_key(ec.SECP256R1())
            pool.append((key.public_key(), base64.b64encode(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption()))))
        self.client_keys = itertools.cycle(pool)
        # A key no certificate is issued for: the "wrong-key" answer's.
        self.stray_key_b64 = base64.b64encode(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        # Signing makes ~20 cffi calls, each releasing the GIL. Done by one thread at a
        # time, the GIL comes straight back instead of convoying through 32 threads:
        # +15-25% req/s and a third of the system time.
        self.signing = threading.Lock()

    def server_context(self, sans, state_dir, client_ca=False):
        """A TLS server context whose certificate names `sans` (IP address strings or
        DNS names); with client_ca it demands a client certificate from our CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        names = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0])]))
            .issuer_name(self.ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(self.aki, critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl only loads keys from files: keep them in the state dir just long enough.
        with tempfile.NamedTemporaryFile(dir=state_dir, suffix=".pem") as chain:
            chain.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
            chain.write(cert.public_bytes(serialization.Encoding.PEM))
            chain.flush()
            context.load_cert_chain(chain.name)
        if client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.ca_pem.decode())
        return context

    def client_cert(self, subject, days, start_days=0):
        """A newly signed client certificate valid `days` days from now + start_days
        (whole seconds); returns base64 of the certificate PEM and of the key PEM."""
        public_key, key_b64 = next(self.client_keys)   # atomic under the GIL
        with self.signing:
            not_before = datetime.datetime.fromtimestamp(
                int(time.time()) + start_days * 86400, datetime.timezone.utc)
            cert = x509.CertificateBuilder(
                issuer_name=self.ca_name, subject_name=subject, public_key=public_key,
                serial_number=IDS.getrandbits(159) | 1, not_valid_before=not_before,
                not_valid_after=not_before + datetime.timedelta(days=days),
                extensions=self.client_extensions,
            ).sign(self.ca_key, hashes.SHA256())
        return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)), key_b64


# --------------------------------------------------------------------------- fleet

class Cluster:
    """One simulated cluster with its responses serialised in advance."""

    def __init__(self, i, rng, region, internal_url, external_url, ca_b64):
        def det_uuid():
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        env = ENVS[i % len(ENVS)]
        version = VERSIONS[i % len(VERSIONS)]
        self.index = i
        self.uid = det_uuid()
        self.name = "%s-%03d" % (env, i)
        self.phase = {7: "Unavailable", 9: "Creating"}.get(i % 10, "Available")
        self.port_id = det_uuid()
        self.subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, "cce-user-" + self.uid[:8]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")])
        has_eip = i % 3 != 2
        newer = tuple(int(p) for p in version[1:].split(".")[:2]) >= (1, 27)

        created = 1577836800 + rng.randrange(3 * 365 * 86400)     # 2020..2022
        updated = created + rng.randrange(365 * 86400)
        if i % 4 == 3:      # the Huawei Cloud shape
            endpoints = [{"url": internal_url, "type": "Internal"}]
            if has_eip:
                endpoints.append({"url": external_url, "type": "External"})
        else:               # the OTC shape
            endpoints = {"internal": internal_url}
            if has_eip:
                endpoints["external"] = external_url
                endpoints["external_otc"] = "https://%s.cce.%s.sim.invalid" % (self.uid, region)
        obj = {
            "kind": "Cluster", "apiVersion": "v3",
            "metadata": {"name": self.name, "uid": self.uid,
                         "creationTimestamp": cce_timestamp(created, rng),
                         "updateTimestamp": cce_timestamp(updated, rng),
                         "labels": {"env": env}, "annotations": {}},
            "spec": {"type": "VirtualMachine", "flavor": FLAVORS[i % len(FLAVORS)],
                     "version": version, "description": "simulated %s cluster" % env,
                     "hostNetwork": {"vpc": det_uuid(), "subnet": det_uuid(),
                                     "SecurityGroup": det_uuid()},
                     "containerNetwork": {"mode": ("overlay_l2", "vpc-router")[i % 2],
                                          "cidr": "172.16.0.0/16"},
                     "authentication": {"mode": "rbac", "authenticatingProxy": {}},
                     "billingMode": 0, "kubernetesSvcIpRange": "10.247.0.0/16",
                     "kubeProxyMode": "iptables"},
            "status": {"phase": self.phase, "jobID": det_uuid(), "endpoints": endpoints},
        }
        self.obj = obj
        self.body = json.dumps(obj).encode()

        ca = {"certificate-authority-data": ca_b64}
        entries = [("internalCluster", "internal", dict(server=internal_url, **ca))]
        if has_eip:
            external = {"server": external_url}
            if i % 7 == 6:  # real CCE quirk: both the CA and the insecure flag
                external.update(ca)
            external["insecure-skip-tls-verify"] = True
            entries.append(("externalCluster", "external", external))
            if newer:
                entries.append(("externalClusterTLSVerify", "externalTLSVerify",
                                dict(server=external_url, **ca)))
        if i % 5 == 4:
            entries.append(("customSAN-0", "customSAN-0", dict(server=internal_url, **ca)))
        kubeconfig = json.dumps({
            "kind": "Config", "apiVersion": "v1", "preferences": {},
            "clusters": [{"name": name, "cluster": c} for name, _, c in entries],
            "users": [{"name": "user", "user": {"client-certificate-data": "@CERT@",
                                                "client-key-data": "@KEY@"}}],
            "contexts": [{"name": ctx, "context": {"cluster": name, "user": "user"}}
                         for name, ctx, _ in entries],
            "current-context": "external" if has_eip else "internal",
        }).encode()
        # Only the certificate and key differ per request: splice them into these parts.
        head, rest = kubeconfig.split(b"@CERT@")
        middle, tail = rest.split(b"@KEY@")
        self.kubeconfig_parts = (head, middle, tail)


def cce_timestamp(seconds, rng):
    """CCE's timestamp format: `2020-02-02 03:48:58.968214406 +0000 UTC`."""
    stamp = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return "%s.%09d +0000 UTC" % (stamp.strftime("%Y-%m-%d %H:%M:%S"), rng.randrange(10 ** 9))


# --------------------------------------------------------------------------- state

ANY_SCOPE = object()    # check_credentials: a token of any scope will do


class Simulator:
    """Everything the request handlers share: fleet, PKI, configuration, faults, stats."""

    def __init__(self, args, pki):
        self.pki = pki
        self.seed = args.seed
        self.project_id = args.project_id
        self.token = args.token
        self.quiet = args.quiet
        self.latency = args.latency_ms / 1000.0
        self.rates = list(args.fault.items())
        self.retry_after = args.retry_after
        self.lock = threading.Lock()
        self.rng = random.Random(self.seed)
        self.queued = []
        self.counts = dict.fromkeys(ROUTES, 0)
        self.log = []
        self.clusters = {}      # every project's clusters by uid
        self.region = args.region
        self.endpoint = None    # known once the CCE port is bound
        # IAM: one user in one domain, with these credentials.
        self.user = args.user
        self.user_id = args.user_id
        self.password = args.password
        self.domain = args.domain
        self.domain_id = args.domain_id
        self.mfa = args.mfa
        self.passcode = args.passcode
        self.token_lifetime = args.token_lifetime
        self.ak = args.ak
        self.sk = args.sk
        self.security_token = args.security_token
        self.clock_skew = args.clock_skew
        # Issued tokens: token -> (project id, None for a domain or unscoped token, expiry).
        # Replaced as a whole by a revocation, so readers need no lock.
        self.tokens = {}
        self.rejected = set()       # CNs of the clusters whose certificates the API server refuses
        self.project_list = [Project(args.project_id, args.region)]
        for i in range(1, args.projects):
            name = "%s_p%d" % (args.region, i)
            self.project_list.append(Project(derived_id(self.seed, name), name))
        self.fleet_projects = list(self.project_list)
        self.project_list += [Project(derived_id(self.seed, name), name)
                              for name in args.extra_project]
        self.project_list += [Project(derived_id(self.seed, name), name, enabled=False)
                              for name in args.disabled_project]
        self.projects = {p.id: p for p in self.project_list}
        self.project_names = {p.name: p for p in self.project_list}

    def build_fleet(self, count, region, internal_url, external_url):
        """`count` clusters in each of the --projects projects: the same names (and
        phases, versions, shapes) everywhere, uids of their own per project."""
        for n, project in enumerate(self.fleet_projects):
            # The first project's fleet is the one a single-project simulator always had.
            rng = random.Random(self.seed if n == 0 else "%d/%s" % (self.seed, project.id))
            fleet = [Cluster(i, rng, region, internal_url, external_url, self.pki.ca_b64)
                     for i in range(count)]
            project.clusters = {c.uid: c for c in fleet}
            project.list_body = json.dumps({"kind": "Cluster", "apiVersion": "v3",
                                            "items": [c.obj for c in fleet]}).encode()
            self.clusters.update(project.clusters)

    def record(self, when, method, route, cluster, status, fault, project=None, auth=None):
        with self.lock:
            self.counts[route] += 1
            self.log.append((when, method, route, cluster, status, fault, project, auth))

    def stats(self):
        with self.lock:
            counts = dict(self.counts)
            log = list(self.log)
        keys = ("t", "method", "route", "cluster", "status", "fault")
        entries = []
        for entry in log:
            item = dict(zip(keys, entry))
            route = entry[2]
            if route in CCE_ROUTES:
                item["project"] = entry[6]
            if route in CCE_ROUTES or route == "iam-projects":
                item["auth"] = entry[7]
            entries.append(item)
        return {"total": sum(counts.values()), "requests": counts, "log": entries}

    # ---- IAM

    def issue_token(self, project_id):
        """A new random token for a project (None: domain scope); (token, issued, expiry)."""
        token = "MIIsim" + secrets.token_urlsafe(96)
        issued = time.time()
        expires = issued + self.token_lifetime
        self.tokens[token] = (project_id, expires)
        return token, issued, expires

    def delete_cluster(self, spec):
        """Takes a cluster out of its project, as if it had been deleted: gone from the
        listing, 404 on cluster and clustercert. Returns its id."""
        cid = spec.get("cluster") if isinstance(spec, dict) else None
        if not isinstance(cid, str):
            raise UsageError('delete takes {"cluster": ID}')
        with self.lock:
            for project in self.projects.values():
                if cid in project.clusters and spec.get("project") in (None, project.id):
                    del project.clusters[cid]
                    self.clusters.pop(cid, None)
                    project.list_body = json.dumps({
                        "kind": "Cluster", "apiVersion": "v3",
                        "items": [c.obj for c in project.clusters.values()]}).encode()
                    return cid
        raise UsageError("no cluster %s" % cid)

    def reject_cluster(self, spec):
        """From now on (or no longer, with "reject": false) the API server stand-in answers
        401 to every certificate issued for the cluster."""
        cid = spec.get("cluster") if isinstance(spec, dict) else None
        if not isinstance(cid, str) or cid not in self.clusters:
            raise UsageError('reject takes {"cluster": ID} of an existing cluster')
        tag = "cce-user-" + cid[:8]     # the CN of its certificates (Cluster.subject)
        with self.lock:
            if spec.get("reject", True) is False:
                self.rejected.discard(tag)
            else:
                self.rejected.add(tag)
            return sorted(self.rejected)

    def revoke(self):
        """Every token issued so far stops working (as after a password change)."""
        with self.lock:
            count = len(self.tokens)
            self.tokens = {}
        return count

    def project_view(self, project):
        return {"id": project.id, "name": project.name, "enabled": project.enabled,
                "domain_id": self.domain_id, "description": ""}

    def catalog(self):
        return [{"type": "ccev2.0", "name": "cce", "id": derived_id(self.seed, "ccev2.0"),
                 "endpoints": [{"interface": "public", "region": self.region,
                                "region_id": self.region, "url": self.endpoint,
                                "id": derived_id(self.seed, "ccev2.0/public")}]},
                {"type": "identity", "name": "iam", "id": derived_id(self.seed, "identity"),
                 "endpoints": [{"interface": "public", "region": "*", "region_id": "*",
                                "url": self.endpoint + "/v3",
                                "id": derived_id(self.seed, "identity/public")}]}]

    def reset(self):
        with self.lock:
            self.counts = dict.fromkeys(ROUTES, 0)
            self.log = []
            self.queued = []
            self.rng = random.Random(self.seed)

    def queue_fault(self, spec):
        rule = parse_rule(spec)
        with self.lock:
            self.queued.append(rule)
            return len(self.queued)

    def take_queued(self, route, cluster):
        """The first queued rule matching this request, used up by one."""
        if not self.queued:     # the common case, checked without the lock
            return None
        with self.lock:
            for n, rule in enumerate(self.queued):
                if rule["route"] in ("any", route) and rule["cluster"] in (None, cluster):
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        del self.queued[n]
                    return rule
        return None

    def draw_fault(self):
        """A random fault by the configured rates, or None."""
        rates = self.rates
        if not rates:
            return None
        x = self.rng.random()
        for kind, rate in rates:
            if x < rate:
                return parse_rule({"kind": kind})
            x -= rate
        return None

    def configure(self, spec):
        if not isinstance(spec, dict):
            raise UsageError("config must be a JSON object")
        latency = spec.get("latency_ms", self.latency * 1000)
        if not is_number(latency) or latency < 0:
            raise UsageError("latency_ms must be a number >= 0")
        rates = parse_rates(spec["rates"]) if "rates" in spec else dict(self.rates)
        retry_after = spec.get("retry_after", self.retry_after)
        if type(retry_after) is not int or retry_after < 0:
            raise UsageError("retry_after must be an integer >= 0")
        skew = spec.get("clock_skew_s", self.clock_skew)
        if not is_number(skew):
            raise UsageError("clock_skew_s must be a number")
        lifetime = spec.get("token_lifetime", self.token_lifetime)
        if not is_number(lifetime) or lifetime < 0:
            raise UsageError("token_lifetime must be a number >= 0")
        self.latency = latency / 1000.0
        self.rates = list(rates.items())
        self.retry_after = retry_after
        self.clock_skew = skew
        self.token_lifetime = lifetime
        return self.config()

    def config(self):
        return {"latency_ms": self.latency * 1000, "rates": dict(self.rates),
                "retry_after": self.retry_after, "clock_skew_s": self.clock_skew,
                "token_lifetime": self.token_lifetime}


def is_number(value):
    return type(value) in (int, float)


def parse_rates(rates):
    if not isinstance(rates, dict):
        raise UsageError("rates must be an object of KIND: RATE")
    for kind, rate in rates.items():
        if kind not in FAULT_KINDS:
            raise UsageError("unknown fault kind %r (one of %s)" % (kind, ", ".join(FAULT_KINDS)))
        if not is_number(rate) or not 0 <= rate <= 1:
            raise UsageError("rate of %s must be a number in 0..1" % kind)
    if sum(rates.values()) > 1:
        raise UsageError("fault rates add up to more than 1")
    return dict(rates)


def parse_rule(spec):
    """Validate a fault rule and fill in its defaults."""
    if not isinstance(spec, dict):
        raise UsageError("a fault rule must be a JSON object")
    rule = {"route": spec.get("route", "any"), "cluster": spec.get("cluster"),
            "kind": spec.get("kind"), "count": spec.get("count", 1),
            "retry_after": spec.get("retry_after"), "format": spec.get("format", "cce"),
            "seconds": spec.get("seconds", SLOW_SECONDS), "status": spec.get("status"),
            "path": spec.get("path", KEY_FILE), "message": spec.get("message")}
    if rule["route"] not in FAULT_ROUTES:
        raise UsageError("route must be one of " + ", ".join(FAULT_ROUTES))
    if rule["cluster"] is not None and not isinstance(rule["cluster"], str):
        raise UsageError("cluster must be a cluster id or null")
    if rule["kind"] not in FAULT_KINDS:
        raise UsageError("kind must be one of " + ", ".join(FAULT_KINDS))
    if type(rule["count"]) is not int or rule["count"] < 1:
        raise UsageError("count must be an integer >= 1")
    if rule["retry_after"] is not None and (type(rule["retry_after"]) is not int
                                            or rule["retry_after"] < 0):
        raise UsageError("retry_after must be an integer >= 0")
    if rule["format"] not in FORMATS:
        raise UsageError("format must be one of " + ", ".join(FORMATS))
    if not is_number(rule["seconds"]) or rule["seconds"] < 0:
        raise UsageError("seconds must be a number >= 0")
    if rule["message"] is not None and not isinstance(rule["message"], str):
        raise UsageError("message must be a string")
    if not isinstance(rule["path"], str) or not rule["path"]:
        raise UsageError("path must be a non-empty string")
    if rule["kind"] in ANSWER_KINDS and rule["route"] not in ("clustercert", "any"):
        raise UsageError("kind %s is an answer to clustercert: route must be clustercert or any"
                         % rule["kind"])
    if rule["kind"] in LIST_KINDS and rule["route"] not in ("clusters", "any"):
        raise UsageError("kind %s changes the cluster list: route must be clusters or any"
                         % rule["kind"])
    if rule["status"] is not None and (type(rule["status"]) is not int
                                       or not 200 <= rule["status"] <= 599):
        raise UsageError("status must be an integer in 200..599")
    return rule


# --------------------------------------------------------------------------- HTTP

class TLSServer(ThreadingHTTPServer):
    """A threaded HTTPS server that does the TLS handshake in the connection's own
    thread, so that a client stalling its handshake cannot hold up accept()."""
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self, address, handler, context, sim):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.ssl_context = context
        self.sim = sim
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), which may ask a DNS server.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # Without TCP_NODELAY, a response written right after the TLS 1.3 session
        # tickets waits for the client's delayed ACK (40 ms).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:     # failed handshakes (no client cert, bad CA ...) are the client's
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            # No shutdown(SHUT_WR) first: a "reset" fault must not send a FIN before its RST.
            conn.close()

    def handle_error(self, request, client_address):
        # Clients that go away mid-request are normal; anything else is a simulator bug.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """What both servers share: response writing, body reading and logging."""
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server_version = "ccesim"
    sys_version = ""

    def log_request(self, code="-", size="-"):
        pass        # every request is logged by log_line(), with its route and fault

    def log_message(self, format, *args):
        if not self.server.sim.quiet:
            sys.stderr.write("ccesim: %s %s\n" % (self.address_string(), format % args))

    def log_line(self, started, route, cluster, status, fault):
        """One short line: method, route, cluster id prefix (else the path), outcome."""
        if not self.server.sim.quiet:
            sys.stderr.write("ccesim: %s %s %s -> %s%s %.1fms\n" % (
                self.command, route, cluster[:8] if cluster else self.path,
                status if status is not None else "(no response)",
                " fault=" + fault if fault else "", (time.time() - started) * 1000))

    def read_body(self):
        """The request body (Content-Length or chunked), read in full so that the
        connection stays usable; None when it cannot be read."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, size = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    length = int(line.split(b";")[0], 16)
                except ValueError:
                    return None
                size += length
                if size > MAX_BODY:
                    return None
                if length == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass    # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(length))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            length = int(length)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY:
            return None
        return self.rfile.read(length)

    def write(self, reply, truncate=False):
        body = reply.body
        head = ["HTTP/1.1 %d %s" % (reply.status, PHRASES.get(reply.status, "")),
                "Date: " + email.utils.formatdate(usegmt=True),
                "Server: ccesim",
                "Content-Type: " + reply.content_type,
                "Content-Length: %d" % len(body)]
        if reply.request_id:
            head.append("X-Request-Id: " + new_uuid())
        head.extend("%s: %s" % header for header in reply.headers)
        if truncate:
            self.close_connection = True
            body = body[:len(body) // 2]
        if self.close_connection:
            head.append("Connection: close")
        # One write, so that a response is one TLS record when it fits.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


class CCEHandler(Handler):
    """The CCE API and the /_sim/ control API."""

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path.startswith("/_sim/"):
            self.control(path)
        else:
            self.api(path, query)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ---- control API

    def control(self, path):
        started = time.time()
        sim = self.server.sim
        body = self.read_body()
        try:
            if body is None:
                raise UsageError("unreadable request body")
            if self.command == "GET" and path == "/_sim/stats":
                reply = json_reply(200, sim.stats())
            elif self.command == "POST" and path == "/_sim/reset":
                sim.reset()
                reply = json_reply(200, {"ok": True})
            elif self.command == "POST" and path == "/_sim/faults":
                reply = json_reply(200, {"ok": True, "queued": sim.queue_fault(load_json(body))})
            elif self.command == "POST" and path == "/_sim/config":
                reply = json_reply(200, sim.configure(load_json(body)))
            elif self.command == "POST" and path == "/_sim/revoke":
                reply = json_reply(200, {"ok": True, "revoked": sim.revoke()})
            elif self.command == "POST" and path == "/_sim/delete":
                reply = json_reply(200, {"ok": True, "deleted": sim.delete_cluster(load_json(body))})
            elif self.command == "POST" and path == "/_sim/reject":
                reply = json_reply(200, {"ok": True, "rejected": sim.reject_cluster(load_json(body))})
            else:
                reply = json_reply(404, {"error": "no such control endpoint: %s %s"
                                         % (self.command, path)})
        except UsageError as err:
            reply = json_reply(400, {"error": str(err)})
        self.write(reply)
        self.log_line(started, "_sim", None, reply.status, None)

    # ---- CCE API

    def api(self, path, query):
        started = time.time()
        sim = self.server.sim
        route, project, cluster = classify(self.command, path)
        status = fault = self.auth = None
        try:
            body = self.read_body()
            if body is None:
                self.close_connection = True    # the stream is out of step now
                body = b""
            rule = sim.take_queued(route, cluster)
            if rule is None:
                if route in IAM_ROUTES:
                    reply = self.iam(route, path, query, body)
                else:
                    reply = self.authorise(route, project, path, query, body)
                    if reply is None:
                        rule = sim.draw_fault()
                        if rule is None:
                            reply = self.answer(route, project, cluster, body)
            # The latency is the time from the request to the response, the simulator's
            # own work included: so a benchmark measures the client, not the simulator.
            if sim.latency:
                left = sim.latency - (time.time() - started)
                if left > 0:
                    time.sleep(left)
            if rule is None:
                self.write(reply)
                status = reply.status
            else:
                fault = rule["kind"]
                status = self.fault(rule, route, project, cluster, path, query, body)
        finally:
            sim.record(started, self.command, route, cluster, status, fault, project, self.auth)
            self.log_line(started, route, cluster, status, fault)

    def regular(self, route, project, cluster, path, query, body):
        """The answer without faults: authorisation, then the route's own."""
        if route in IAM_ROUTES:
            return self.iam(route, path, query, body)
        return (self.authorise(route, project, path, query, body)
                or self.answer(route, project, cluster, body))

    def authorise(self, route, project, path, query, body):
        """None when the request may go on to the project `project`, else the refusal."""
        if route == "other":
            return error_reply(404, "apig", None)
        return self.check_credentials(path, query, body, project, lambda: error_reply(401, "cce", None))

    def check_credentials(self, path, query, body, project, refused):
        """None when the request carries the static token, a live token for `project`
        (ANY_SCOPE: of any scope), or a valid AK/SK signature; else `refused()`, or 403
        for a token of another project (or a domain-scoped one)."""
        sim = self.server.sim
        token = self.headers.get("X-Auth-Token")
        if token is not None:
            # The static token first and by plain comparison: the benchmarks' path.
            if token == sim.token:
                self.auth = "static"
                return None
            entry = sim.tokens.get(token)
            if entry is None or entry[1] <= time.time():
                return refused()
            self.auth = "token"
            if project is not ANY_SCOPE and entry[0] != project:
                return error_reply(403, "cce", None)
            return None
        authorization = self.headers.get("Authorization")
        if authorization is not None and authorization.startswith(SIGN_ALGORITHM + " "):
            self.auth = "aksk"
            return self.check_signature(authorization, path, query, body)
        return refused()

    def check_signature(self, authorization, path, query, body):
        """None when the request is signed with the simulator's AK/SK within the allowed
        clock skew, else the API gateway's refusal."""
        sim = self.server.sim
        access, signed, signature = parse_authorization(authorization)
        if access != sim.ak or not signed or not signature or "x-sdk-date" not in signed:
            return apigw_reply(SIGN_FAIL)
        headers = {}
        for name in signed:
            value = self.headers.get(name)
            if value is None:
                return apigw_reply(SIGN_FAIL)
            headers[name] = value
        sdk_date = headers["x-sdk-date"].strip(" \t")
        when = parse_sdk_date(sdk_date)
        if when is None:
            return apigw_reply(SIGN_FAIL)
        if abs(when - (time.time() + sim.clock_skew)) > MAX_SDK_SKEW:
            return apigw_reply(DATE_EXPIRED)
        expected = request_signature(sim.sk, sdk_date, canonical_request(
            self.command, path, query, headers, signed, body))
        if not hmac.compare_digest(expected, signature):
            return apigw_reply(SIGN_FAIL)
        if (sim.security_token is not None
                and self.headers.get("X-Security-Token") != sim.security_token):
            return apigw_reply(SECURITY_TOKEN_FAIL)
        return None

    # ---- IAM

    def iam(self, route, path, query, body):
        if route == "iam-tokens":
            return self.login(query, body)
        sim = self.server.sim
        refusal = self.authorise_iam(path, query, body)
        if refusal is not None:
            return refusal
        projects = sim.project_list
        if path == "/v3/projects":
            names = [v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
                     if k == "name"]
            if names:
                projects = [p for p in projects if p.name in names]
        return json_reply(200, {"projects": [sim.project_view(p) for p in projects],
                                "links": {"self": sim.endpoint + self.path,
                                          "previous": None, "next": None}})

    def authorise_iam(self, path, query, body):
        """IAM's listings take any valid token (domain-scoped ones too) or AK/SK."""
        return self.check_credentials(path, query, body, ANY_SCOPE, lambda: iam_reply(IAM_NEEDS_AUTH))

    def login(self, query, body):
        """POST /v3/auth/tokens: a password (+ totp) login scoped to a project or domain."""
        sim = self.server.sim
        try:
            doc = json.loads(body)
        except ValueError:
            return iam_reply(IAM_BAD_BODY)
        identity = dig(doc, "auth", "identity")
        methods = dig(identity, "methods")
        if (not isinstance(methods, list) or "password" not in methods
                or any(m not in ("password", "totp") for m in methods)):
            return iam_reply((400, "IAM.0007", "Request parameter auth.identity.methods is "
                              "invalid (password, or password and totp)."))
        user = dig(identity, "password", "user")
        if not isinstance(user, dict):
            return iam_reply(IAM_BAD_BODY)
        if "id" in user:
            known = user["id"] == sim.user_id
        else:
            domain = user.get("domain")
            known = (user.get("name") == sim.user and isinstance(domain, dict)
                     and (domain.get("name") == sim.domain if "name" in domain
                          else domain.get("id") == sim.domain_id))
        if not known or user.get("password") != sim.password:
            return iam_reply(IAM_WRONG_PASSWORD)
        if "totp" in methods:
            totp = dig(identity, "totp", "user")
            passcode = dig(totp, "passcode")
            if not passcode:
                return iam_reply(IAM_MFA_REQUIRED)
            if dig(totp, "id") != sim.user_id or passcode != sim.passcode:
                return iam_reply(IAM_MFA_WRONG)
        elif sim.mfa:
            return iam_reply(IAM_MFA_REQUIRED)
        scope = dig(doc, "auth", "scope")
        project = domain_scope = None
        if scope is None:
            pass        # unscoped: like a domain-scoped token, good for listing projects only
        elif isinstance(dig(scope, "project"), dict):
            wanted = scope["project"]
            if "id" in wanted:
                project = sim.projects.get(wanted["id"])
            else:
                project = sim.project_names.get(wanted.get("name"))
                domain = wanted.get("domain")
                if isinstance(domain, dict) and not (
                        domain.get("name") == sim.domain if "name" in domain
                        else domain.get("id") == sim.domain_id):
                    project = None
            if project is None:
                return iam_reply(IAM_NO_PROJECT)
            if not project.enabled:
                return iam_reply(IAM_PROJECT_DISABLED)
        elif isinstance(dig(scope, "domain"), dict):
            domain = scope["domain"]
            if not (domain.get("name") == sim.domain if "name" in domain
                    else domain.get("id") == sim.domain_id):
                return iam_reply(IAM_WRONG_DOMAIN)
            domain_scope = True
        else:
            return iam_reply((400, "IAM.0007", "Request parameter auth.scope is invalid."))
        token, issued, expires = sim.issue_token(project.id if project else None)
        domain_view = {"id": sim.domain_id, "name": sim.domain}
        out = {"expires_at": iam_time(expires), "issued_at": iam_time(issued),
               "methods": methods,
               "user": {"id": sim.user_id, "name": sim.user, "domain": domain_view,
                        "password_expires_at": ""},
               "roles": [{"id": derived_id(sim.seed, "role/te_admin"), "name": "te_admin"}]}
        if project is not None:
            out["project"] = {"id": project.id, "name": project.name, "domain": domain_view}
        elif domain_scope:
            out["domain"] = domain_view
        if dict(urllib.parse.parse_qsl(query)).get("nocatalog") != "true":
            out["catalog"] = sim.catalog()
        return json_reply(201, {"token": out}, (("X-Subject-Token", token),))

    # ---- CCE

    def answer(self, route, project_id, cluster_id, body):
        """The regular response, from the project check on (auth already passed)."""
        sim = self.server.sim
        project = sim.projects.get(project_id)
        if project is None or not project.enabled:
            return error_reply(403, "cce", None)
        if route == "clusters":
            return Reply(200, project.list_body)
        cluster = project.clusters.get(cluster_id)
        if cluster is None:
            return error_reply(404, "status", "cluster %s not found" % cluster_id)
        if route == "cluster":
            return Reply(200, cluster.body)
        if self.command == "GET":       # the deprecated form: maximum validity
            days = MAX_DAYS
        else:
            days, problem = parse_duration(body)
            if problem:
                return error_reply(400, "status", problem)
        if cluster.phase != "Available":
            return error_reply(400, "status", "cluster %s is %s, not Available"
                               % (cluster.name, cluster.phase))
        cert_b64, key_b64 = sim.pki.client_cert(cluster.subject, days)
        head, middle, tail = cluster.kubeconfig_parts
        return Reply(200, b"".join((head, cert_b64, middle, key_b64, tail)),
                     (("Port-ID", cluster.port_id),))

    def fault(self, rule, route, project, cluster, path, query, body):
        """Answer with the fault `rule`; returns the status sent, None for none."""
        kind = rule["kind"]
        if kind == "reset":
            # SO_LINGER 0 makes close() send an RST; TLSServer.finish_request closes
            # without a TLS close_notify or a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return None
        if kind in ANSWER_KINDS or kind in LIST_KINDS:
            reply = self.regular(route, project, cluster, path, query, body)
            fits = route == ("clusters" if kind in LIST_KINDS else "clustercert")
            if fits and reply.status == 200:
                reply = Reply(200, self.hostile(kind, rule, reply.body, cluster), reply.headers)
            self.write(reply)
            return reply.status
        if kind in ("truncate", "slow"):
            if kind == "slow":
                time.sleep(rule["seconds"])
            reply = self.regular(route, project, cluster, path, query, body)
            self.write(reply, truncate=kind == "truncate")
            return reply.status
        if kind == "malformed":
            reply = Reply(200, MALFORMED_BODY)
        elif kind == "html":
            status = rule["status"] or 502
            reply = Reply(status, HTML_PAGE.format(status, PHRASES.get(status, "")).encode(),
                          content_type="text/html")
        elif kind == "empty":
            reply = Reply(rule["status"] or 502, b"")
        else:
            status = int(kind)
            reply = error_reply(status, rule["format"], "simulated %d fault" % status, rule["message"])
            if status == 429:
                retry_after = rule["retry_after"]
                if retry_after is None:
                    retry_after = self.server.sim.retry_after
                reply.headers = (("Retry-After", str(retry_after)),)
        self.write(reply)
        return reply.status


    def hostile(self, kind, rule, body, cluster_id):
        """The regular answer `body` turned into the hostile answer `kind`."""
        sim = self.server.sim
        doc = json.loads(body)
        if kind == "dup-name":
            available = [c for c in doc["items"] if c["status"]["phase"] == "Available"]
            if len(available) >= 2:
                available[1]["metadata"]["name"] = available[0]["metadata"]["name"]
            return json.dumps(doc).encode()
        if kind == "ctl-name":
            available = [c for c in doc["items"] if c["status"]["phase"] == "Available"]
            if available:
                available[0]["metadata"]["name"] += CTL_NAME
            return json.dumps(doc).encode()
        if kind == "dup-keys":
            # json cannot make a duplicate key: splice one into the text, after the real one.
            at = body.index(b'"server": "') + len(b'"server": "')
            end = body.index(b'"', at) + 1
            return body[:end] + b', "server": "https://attacker.sim.invalid:5443"' + body[end:]
        user = doc["users"][0]["user"]
        if kind == "bad-base64":
            user["client-certificate-data"] = "!!!not base64!!!"
        elif kind == "not-cert":
            user["client-certificate-data"] = base64.b64encode(
                b"this is not a certificate\n").decode()
        elif kind == "wrong-key":
            user["client-key-data"] = sim.pki.stray_key_b64.decode()
        elif kind == "expired":
            cert_b64, key_b64 = sim.pki.client_cert(sim.clusters[cluster_id].subject, 30, -40)
            user["client-certificate-data"] = cert_b64.decode()
            user["client-key-data"] = key_b64.decode()
        elif kind == "exec":
            user["exec"] = {"apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "/bin/sh", "args": ["-c", "echo pwned >&2"],
                            "interactiveMode": "Never"}
        elif kind == "auth-provider":
            user["auth-provider"] = {"name": "oidc", "config": {
                "idp-issuer-url": "https://attacker.sim.invalid", "client-id": "cceauto",
                "id-token": "sim-planted-id-token"}}
        elif kind == "token":
            user["token"] = "sim-planted-token"
        elif kind == "key-file":
            del user["client-key-data"]
            user["client-key"] = rule["path"]
        for entry in doc["clusters"]:
            if kind == "proxy-url":
                entry["cluster"]["proxy-url"] = "http://127.0.0.1:9"
            elif kind == "http-server":
                entry["cluster"]["server"] = entry["cluster"]["server"].replace(
                    "https://", "http://", 1)
        return json.dumps(doc).encode()


class APIServerHandler(Handler):
    """The kube-apiserver stand-in: /version, /api and /apis for any client with a
    certificate from our CA, except the certificates of clusters told to be rejected
    (/_sim/reject): those get 401, as a cluster that no longer trusts them."""

    def do_GET(self):
        started = time.time()
        status = None
        try:
            self.read_body()
            path = self.path.split("?", 1)[0]
            if self.rejected():
                reply = Reply(401, KUBE_UNAUTHORIZED)
            elif self.command == "GET" and path == "/version":
                reply = Reply(200, VERSION_BODY)
            elif self.command == "GET" and path == "/api":
                reply = Reply(200, API_VERSIONS_BODY)
            elif self.command == "GET" and path == "/apis":
                reply = Reply(200, API_GROUPS_BODY)
            else:
                reply = Reply(404, KUBE_NOT_FOUND)
            self.write(reply)
            status = reply.status
        finally:
            self.server.sim.record(started, self.command, "apiserver", None, status, None)
            self.log_line(started, "apiserver", None, status, None)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def rejected(self):
        """Whether the client certificate is one of a rejected cluster's."""
        sim = self.server.sim
        if not sim.rejected:
            return False
        cert = self.connection.getpeercert()
        for rdn in (cert or {}).get("subject", ()):
            for key, value in rdn:
                if key == "commonName" and value in sim.rejected:
                    return True
        return False


def classify(method, path):
    """(route, project id, cluster id) of a CCE or IAM API request."""
    if path.startswith("/v3/"):
        if path == "/v3/auth/tokens" and method == "POST":
            return "iam-tokens", None, None
        if path in ("/v3/auth/projects", "/v3/projects") and method == "GET":
            return "iam-projects", None, None
        return "other", None, None
    parts = path.split("/")
    if len(parts) >= 6 and parts[1:4] == ["api", "v3", "projects"] and parts[5] == "clusters":
        project = parts[4]
        if len(parts) == 6 and method == "GET":
            return "clusters", project, None
        if len(parts) == 7 and parts[6] and method == "GET":
            return "cluster", project, parts[6]
        if (len(parts) == 8 and parts[6] and parts[7] == "clustercert"
                and method in ("GET", "POST")):
            return "clustercert", project, parts[6]
    return "other", None, None


def parse_duration(body):
    """(days, None) from a clustercert request body, or (None, what is wrong)."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None, "request body is not valid JSON"
    if not isinstance(obj, dict):
        return None, "request body must be a JSON object"
    days = obj.get("duration")
    if type(days) is not int or not (1 <= days <= MAX_DAYS or days == -1):
        return None, "duration must be an integer from 1 to %d, or -1" % MAX_DAYS
    return (MAX_DAYS if days == -1 else days), None


def load_json(body):
    try:
        return json.loads(body)
    except ValueError:
        raise UsageError("request body is not valid JSON") from None


# --------------------------------------------------------------------------- main

def loopback(value):
    host = "127.0.0.1" if value == "localhost" else value.strip("[]")
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("%r is not a loopback address" % value)


def fault_rate(value):
    kind, sep, rate = value.partition("=")
    try:
        if not sep:
            raise ValueError
        return kind, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError("expected KIND=RATE, got %r" % value) from None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Simulated Open Telekom Cloud CCE API (HTTPS on loopback) with a "
                    "kube-apiserver stand-in. Prints one JSON line with the endpoint, "
                    "CA file and token once it listens; SIGTERM or SIGINT stops it.",
        epilog="Fault kinds: %s. Control API on the CCE port: GET /_sim/stats, POST "
               "/_sim/reset, POST /_sim/faults, POST /_sim/config, POST /_sim/revoke." % " ".join(FAULT_KINDS))
    parser.add_argument("--listen", metavar="HOST", type=loopback, default="127.0.0.1",
                        help="loopback address for the CCE API (default %(default)s)")
    parser.add_argument("--port", metavar="N", type=int, default=0,
                        help="CCE API port, 0 for an ephemeral one (default %(default)s)")
    parser.add_argument("--api-port", metavar="N", type=int, default=0,
                        help="kube-apiserver stand-in port on 127.0.0.1 and 127.0.0.2, "
                             "0 for an ephemeral one (default %(default)s)")
    parser.add_argument("--clusters", metavar="N", type=int, default=12,
                        help="fleet size (default %(default)s)")
    parser.add_argument("--seed", metavar="N", type=int, default=1,
                        help="seed of the fleet and of the random faults (default %(default)s)")
    parser.add_argument("--project-id", metavar="ID", default="0123456789abcdef0123456789abcdef",
                        help="the project id the API serves (default %(default)s)")
    parser.add_argument("--region", metavar="R", default="eu-de",
                        help="region name (default %(default)s)")
    parser.add_argument("--token", metavar="TOKEN", default="cce-sim-token",
                        help="the accepted X-Auth-Token (default %(default)s)")
    parser.add_argument("--latency-ms", metavar="MS", type=float, default=0.0,
                        help="time from each CCE API request to its response, the "
                        "simulator's own work included (default %(default)s)")
    parser.add_argument("--fault", metavar="KIND=RATE", type=fault_rate, action="append",
                        default=[], help="random fault rate on authorised CCE API requests, "
                        "repeatable, e.g. --fault 503=0.05 --fault reset=0.02")
    parser.add_argument("--retry-after", metavar="SECONDS", type=int, default=1,
                        help="Retry-After of 429 answers (default %(default)s)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where ca.pem and info.json go (default: a temporary directory "
                             "removed on exit)")
    parser.add_argument("--quiet", action="store_true",
                        help="no request log on stderr")
    iam = parser.add_argument_group(
        "IAM and AK/SK", "IAM answers on the same port under /v3 (auth_url = ENDPOINT/v3); "
        "the static --token stays valid for every project")
    iam.add_argument("--projects", metavar="N", type=int, default=1,
                     help="projects with a fleet of --clusters each: the first is "
                          "--project-id named after --region, project i is REGION_pI "
                          "(default %(default)s)")
    iam.add_argument("--extra-project", metavar="NAME", action="append", default=[],
                     help="an empty project of that name, repeatable")
    iam.add_argument("--disabled-project", metavar="NAME", action="append", default=[],
                     help="a disabled empty project of that name, repeatable")
    iam.add_argument("--user", metavar="NAME", default="sim-user",
                     help="IAM user name (default %(default)s)")
    iam.add_argument("--user-id", metavar="ID", default="5a1e0c0ffee0000000000000000000a1",
                     help="IAM user id (default %(default)s)")
    iam.add_argument("--password", metavar="PW", default="sim-password",
                     help="the user's password (default %(default)s)")
    iam.add_argument("--domain", metavar="NAME", default="OTC00000000001000000001",
                     help="the user's domain (tenant) name (default %(default)s)")
    iam.add_argument("--domain-id", metavar="ID", default="d0d0d0d0000000000000000000000001",
                     help="the domain's id (default %(default)s)")
    iam.add_argument("--mfa", action="store_true",
                     help="logins must add the totp method with --passcode")
    iam.add_argument("--passcode", metavar="CODE", default="123456",
                     help="the virtual MFA code (default %(default)s)")
    iam.add_argument("--token-lifetime", metavar="SECONDS", type=float, default=86400,
                     help="life of an issued token (default %(default)s)")
    iam.add_argument("--ak", metavar="AK", default="SIMAKEXAMPLE0000000",
                     help="access key (default %(default)s)")
    iam.add_argument("--sk", metavar="SK", default="sim-secret-key-0000000000000000000000000",
                     help="secret key (default %(default)s)")
    iam.add_argument("--security-token", metavar="T",
                     help="AK/SK requests must also carry X-Security-Token: T")
    iam.add_argument("--clock-skew", metavar="SECONDS", type=float, default=0.0,
                     help="shift of the clock X-Sdk-Date is checked against "
                          "(default %(default)s)")
    args = parser.parse_args(argv)
    for name in ("port", "api_port"):
        if not 0 <= getattr(args, name) <= 65535:
            parser.error("--%s must be 0..65535" % name.replace("_", "-"))
    if not 0 <= args.clusters <= 100000:
        parser.error("--clusters must be 0..100000")
    if args.latency_ms < 0 or args.retry_after < 0:
        parser.error("--latency-ms and --retry-after must be >= 0")
    if not 1 <= args.projects <= 100:
        parser.error("--projects must be 1..100")
    if args.token_lifetime < 0:
        parser.error("--token-lifetime must be >= 0")
    names = [args.region] + ["%s_p%d" % (args.region, i) for i in range(1, args.projects)]
    names += args.extra_project + args.disabled_project
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        parser.error("project names must differ: %s given more than once" % ", ".join(clash))
    try:
        args.fault = parse_rates(dict(args.fault))
    except UsageError as err:
        parser.error("--fault: %s" % err)
    return args


def bind_apiservers(port, context, sim):
    """The stand-in on 127.0.0.1 and 127.0.0.2 with one port number; with an ephemeral
    port, try a few in case 127.0.0.2 has the first one taken."""
    for _ in range(1 if port else 5):
        first = TLSServer(("127.0.0.1", port), APIServerHandler, context, sim)
        try:
            return [first, TLSServer(("127.0.0.2", first.server_port), APIServerHandler,
                                     context, sim)]
        except OSError as err:
            problem = err
            first.server_close()
    sys.stderr.write("ccesim: warning: cannot listen on 127.0.0.2 (%s); "
                     "external endpoints use 127.0.0.1\n" % problem)
    return [TLSServer(("127.0.0.1", port), APIServerHandler, context, sim)]


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    temporary = args.state_dir is None
    state_dir = tempfile.mkdtemp(prefix="ccesim-") if temporary else os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    # Signals are taken synchronously by sigwait() below; every thread inherits the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        pki = PKI()
        sim = Simulator(args, pki)
        ca_file = os.path.join(state_dir, "ca.pem")
        write_atomic(ca_file, pki.ca_pem)

        api_context = pki.server_context(["127.0.0.1", "127.0.0.2", "localhost"], state_dir,
                                         client_ca=True)
        servers = bind_apiservers(args.api_port, api_context, sim)
        api_port = servers[0].server_port
        external_host = servers[-1].server_address[0]
        sim.build_fleet(args.clusters, args.region, "https://127.0.0.1:%d" % api_port,
                        "https://%s:%d" % (external_host, api_port))

        sans = ["127.0.0.1", "localhost"]
        if args.listen not in sans:
            sans.append(args.listen)
        cce = TLSServer((args.listen, args.port), CCEHandler,
                        pki.server_context(sans, state_dir), sim)
        servers.append(cce)
        host = "[%s]" % args.listen if ":" in args.listen else args.listen
        sim.endpoint = "https://%s:%d" % (host, cce.server_port)

        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
        for thread in threads:
            thread.start()
        info = {"endpoint": sim.endpoint,
                "apiserver": "https://127.0.0.1:%d" % api_port,
                "ca_file": ca_file, "project_id": args.project_id, "region": args.region,
                "token": args.token, "clusters": args.clusters, "pid": os.getpid(),
                "state_dir": state_dir,
                "auth_url": sim.endpoint + "/v3", "user": args.user, "user_id": args.user_id,
                "password": args.password, "domain": args.domain,
                "domain_id": args.domain_id, "ak": args.ak, "sk": args.sk,
                "projects": [{"id": p.id, "name": p.name, "enabled": p.enabled}
                             for p in sim.project_list]}
        if args.mfa:
            info["passcode"] = args.passcode
        if args.security_token is not None:
            info["security_token"] = args.security_token
        line = json.dumps(info)
        write_atomic(os.path.join(state_dir, "info.json"), (line + "\n").encode())
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        # shutdown() waits out a serve_forever() poll interval: stop all at once.
        stoppers = [threading.Thread(target=server.shutdown) for server in servers]
        for thread in stoppers:
            thread.start()
        for thread, server in zip(stoppers, servers):
            thread.join()
            server.server_close()
    except OSError as err:
        sys.stderr.write("ccesim: %s\n" % err)
        return 1
    finally:
        if temporary:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
