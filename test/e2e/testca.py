#!/usr/bin/env python3
# testca: a throwaway certificate authority for the TLS tests, made with the
# openssl command line: a CA, and leaf certificates it signs for the gate's
# portal_host (and deliberately broken ones: wrong name, expired, no key).
"""Test CA for wicket's TLS end-to-end tests (Python 3 stdlib + openssl)."""

import os
import shutil
import subprocess


def _openssl(args, cwd):
    """Run openssl with args in cwd; raise with its stderr on failure."""
    p = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def gate_conf(d, addr, port, host):
    """The wicketd lines that serve TLS on addr:port as host, with the
    certificate and key TestCA.install put in d."""
    return ("tls_listen %s:%d\ntls_cert %s/gate.pem\ntls_key %s/gate.key\nportal_host %s\n"
            % (addr, port, d, d, host))


class TestCA:
    """A CA in directory `d`: ca.pem (trust this) and ca.key."""

    def __init__(self, d, name="wicket test CA"):
        """Create the CA key and self-signed certificate."""
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.pem = os.path.join(d, "ca.pem")
        self.key = os.path.join(d, "ca.key")
        _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", self.key, "-out", self.pem, "-days", "3", "-subj", "/CN=" + name,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
        self.serial = 1000

    def issue(self, name, host, days=1):
        """Issue a server certificate for `host`; returns (cert_path, key_path).

        The key is written mode 0600 (wicketd refuses group/other-readable
        keys). days=-1 makes a certificate that expired yesterday.
        """
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        crt = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" % host)
        _openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=" + host], self.dir)
        os.chmod(key, 0o600)
        self.serial += 1
        args = ["x509", "-req", "-in", csr, "-CA", self.pem, "-CAkey", self.key,
                "-set_serial", str(self.serial), "-out", crt, "-extfile", ext]
        args += ["-days", str(days)]
        _openssl(args, self.dir)
        return crt, key

    def install(self, d, host, name="gate"):
        """Issue a certificate for `host` and put it where a test's wicketd reads it:
        d/gate.pem and d/gate.key (mode 0600). Returns (cert_path, key_path) in d."""
        crt, key = self.issue(name, host)
        dst_crt, dst_key = os.path.join(d, "gate.pem"), os.path.join(d, "gate.key")
        shutil.copyfile(crt, dst_crt)
        shutil.copyfile(key, dst_key)
        os.chmod(dst_key, 0o600)
        return dst_crt, dst_key

    def fingerprint(self, crt):
        """The SHA-256 fingerprint of a certificate, as openssl prints it (hex, no colons)."""
        out = _openssl(["x509", "-in", crt, "-noout", "-fingerprint", "-sha256"], self.dir)
        return out.strip().split("=", 1)[1].replace(":", "").lower()
