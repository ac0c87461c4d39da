#!/usr/bin/python3
"""Writes a large kubeconfig for the rotation-check benchmark.

usage: tests/bench/gen_kubeconfig.py OUTPUT [N [POOL]]     (defaults N=10000, POOL=200)

N contexts ctx-00001..ctx-NNNNN, each with its own cluster (clu-NNNNN, server
https://127.0.0.1:<port>, certificate-authority-data = one shared CA) and its own
user (usr-NNNNN) holding a real client certificate and key (EC P-256, signed by
the CA).  Signing 10,000 certificates takes a while, so POOL distinct
certificate/key pairs are made and reused round-robin: user i gets pair
(i-1) % POOL.  Every certificate is valid for 30..400 more days, so a renewal
window below 30 days selects none.  Each context carries an extension
{name: cceauto, extension: {cluster_id, project_id, region}}.

The text is written by hand in kubectl's layout (keys sorted, two-space indent,
lists not indented under their key, base64 on one line), as
`kubectl config view --raw` prints it.  A summary line goes to stderr.
Debian's python3 and python3-cryptography only.
"""
import base64
import datetime
import os
import random
import sys
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MIN_DAYS, MAX_DAYS = 30, 400


def b64(pem):
    return base64.b64encode(pem).decode("ascii")


def make_ca(now):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cceauto-bench-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_client(ca_key, ca_cert, k, pool, now):
    key = ec.generate_private_key(ec.SECP256R1())
    # Spread the expiry over MIN_DAYS..MAX_DAYS (plus a day of margin at the low end).
    days = MIN_DAYS + 1 + (MAX_DAYS - MIN_DAYS - 1) * k // max(pool - 1, 1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "bench-user-%04d" % k),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return b64(cert_pem), b64(key_pem)


def main(argv):
    if len(argv) < 2 or len(argv) > 4 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: gen_kubeconfig.py OUTPUT [N [POOL]]\n")
        return 2
    out = argv[1]
    n = int(argv[2]) if len(argv) > 2 else 10000
    pool = int(argv[3]) if len(argv) > 3 else 200
    if n < 1 or n > 99999 or pool < 1:
        sys.stderr.write("gen_kubeconfig: N must be 1..99999 and POOL at least 1\n")
        return 2
    pool = min(pool, n)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    rng = random.Random(4711)  # the ids are reproducible; the keys are not

    ca_key, ca_cert = make_ca(now)
    ca_data = b64(ca_cert.public_bytes(serialization.Encoding.PEM))
    creds = [make_client(ca_key, ca_cert, k, pool, now) for k in range(pool)]
    project_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex

    def uid():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    names = ["%05d" % i for i in range(1, n + 1)]
    parts = ["apiVersion: v1\nclusters:\n"]
    for i, s in enumerate(names):
        parts.append(
            "- cluster:\n"
            "    certificate-authority-data: %s\n"
            "    server: https://127.0.0.1:%d\n"
            "  name: clu-%s\n" % (ca_data, 1024 + i % 64000, s)
        )
    parts.append("contexts:\n")
    for s in names:
        parts.append(
            "- context:\n"
            "    cluster: clu-%s\n"
            "    extensions:\n"
            "    - extension:\n"
            "        cluster_id: %s\n"
            "        project_id: %s\n"
            "        region: eu-de\n"
            "      name: cceauto\n"
            "    user: usr-%s\n"
            "  name: ctx-%s\n" % (s, uid(), project_id, s, s)
        )
    parts.append("current-context: ctx-%s\nkind: Config\npreferences: {}\nusers:\n" % names[0])
    for i, s in enumerate(names):
        cert, key = creds[i % pool]
        parts.append(
            "- name: usr-%s\n"
            "  user:\n"
            "    client-certificate-data: %s\n"
            "    client-key-data: %s\n" % (s, cert, key)
        )
    text = "".join(parts)

    tmp = out + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    reuse = "one per user" if pool == n else "reused round-robin"
    sys.stderr.write(
        "gen_kubeconfig: %s: %d contexts/clusters/users, %d bytes; %d distinct client cert/key pairs "
        "(EC P-256, valid %d..%d days) %s, one shared CA\n"
        % (out, n, len(text), pool, MIN_DAYS + 1, MAX_DAYS, reuse)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
