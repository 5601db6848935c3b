#!/usr/bin/env python3
"""A small local OpenID issuer for sign-in tests (PyJWT + cryptography, venv-mcp2).

    python issuer.py [--port N]

Prints one JSON line on stdout when it listens: {"issuer": "http://127.0.0.1:PORT"}.
Its own keys, generated at start: an RSA key (RS256) and a P-256 key (ES256), plus a
"rogue" RSA key it never publishes (to sign tokens whose signature must not verify).

    GET  /.well-known/openid-configuration   issuer, jwks_uri, ...
    GET  /jwks                               the published keys (counted)
    POST /mint   {"claims": {...}, "kid"?, "alg"?: RS256|ES256|HS256|none, "sign_with"?: "rogue",
                  "typ"?: "at+jwt" | null | ...}
                 -> {"token": "..."}; claims are used exactly as given.
                 "typ" sets the header's typ (RS256/ES256); null leaves it out.
                 "kid" overrides the header's kid; HS256 is signed with the RSA public
                 key's PEM as the secret (the algorithm-confusion attack); none is unsigned.
    POST /rotate {"keep_old"?: false} -> {"kid": NEW}: a new RSA key signs from now on;
                 the old one leaves the JWKS unless keep_old.
    GET  /stats  -> {"jwks_fetches": N, "discovery_fetches": N}
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rsa = [self._new_rsa()]  # newest last; the newest signs
        self.ec = (f"ec-{uuid.uuid4().hex[:8]}", ec.generate_private_key(ec.SECP256R1()))
        self.rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_fetches = 0
        self.discovery_fetches = 0

    @staticmethod
    def _new_rsa():
        return (f"rsa-{uuid.uuid4().hex[:8]}", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def rotate(self, keep_old: bool) -> str:
        with self.lock:
            new = self._new_rsa()
            self.rsa = (self.rsa + [new]) if keep_old else [new]
            return new[0]

    def jwks(self) -> dict:
        with self.lock:
            self.jwks_fetches += 1
            keys = []
            for kid, key in self.rsa:
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
                jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
                keys.append(jwk)
            kid, key = self.ec
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig", "alg": "ES256"})
            keys.append(jwk)
            return {"keys": keys}

    def mint(self, request: dict) -> str:
        claims = request.get("claims", {})
        alg = request.get("alg", "RS256")
        with self.lock:
            rsa_kid, rsa_key = self.rsa[-1]
            ec_kid, ec_key = self.ec
        if alg == "none":
            header = {"alg": "none", "typ": "JWT", "kid": request.get("kid", rsa_kid)}
            return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), ""])
        if alg == "HS256":
            secret = rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            header = {"alg": "HS256", "typ": "JWT", "kid": request.get("kid", rsa_kid)}
            signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return signing_input + "." + b64url(signature)
        if alg == "ES256":
            headers = {"kid": request.get("kid", ec_kid)}
            key = ec_key
        else:
            headers = {"kid": request.get("kid", rsa_kid)}
            key = self.rogue if request.get("sign_with") == "rogue" else rsa_key
        if "typ" in request:
            # PyJWT drops a typ it is given as None.
            headers["typ"] = request["typ"]
        return jwt.encode(claims, key, algorithm=alg if alg == "ES256" else "RS256", headers=headers)


def make_handler(keys: Keys, issuer: list[str]):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: tests read stdout
            pass

        def send_json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def read_json(self) -> dict:
            length = int(self.headers.get("content-length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                with keys.lock:
                    keys.discovery_fetches += 1
                self.send_json(200, {
                    "issuer": issuer[0],
                    "jwks_uri": issuer[0] + "/jwks",
                    "authorization_endpoint": issuer[0] + "/authorize",
                    "token_endpoint": issuer[0] + "/token",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                })
            elif self.path == "/jwks":
                self.send_json(200, keys.jwks())
            elif self.path == "/stats":
                with keys.lock:
                    self.send_json(200, {"jwks_fetches": keys.jwks_fetches,
                                         "discovery_fetches": keys.discovery_fetches})
            else:
                self.send_json(404, {"error": "not found"})

        def do_POST(self) -> None:
            try:
                body = self.read_json()
            except (ValueError, json.JSONDecodeError) as e:
                self.send_json(400, {"error": f"body is not JSON: {e}"})
                return
            if self.path == "/mint":
                self.send_json(200, {"token": keys.mint(body)})
            elif self.path == "/rotate":
                self.send_json(200, {"kid": keys.rotate(bool(body.get("keep_old")))})
            else:
                self.send_json(404, {"error": "not found"})

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    keys = Keys()
    issuer: list[str] = [""]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(keys, issuer))
    issuer[0] = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps({"issuer": issuer[0]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
