#!/usr/bin/python3
"""A fake Kubernetes API server for the kubernetes auth method: HTTPS with
a CA made at start, the TokenReview API and ServiceAccount reads.

  POST /apis/authentication.k8s.io/v1/tokenreviews
      needs "Authorization: Bearer <reviewer_jwt>" (else 401 Status);
      spec.token one of the ready file's tokens:
        valid      -> authenticated, system:serviceaccount:default:web
        annotated  -> authenticated, default:annotated, whose
                      ServiceAccount carries the service-name annotation
        rejected   -> authenticated: false
        error      -> status.error "token has expired"
        notsa      -> authenticated as a plain user (not a service account)
  GET /api/v1/namespaces/<ns>/serviceaccounts/<name>

The ready file (--ready) holds {port, url, ca_pem, reviewer_jwt, tokens}.
Misbehaviour: POST /_fake/config {"mode": "slow"|"down"|"huge"|"ok"}.
"""
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sa_jwt(ns, name):
    return common.sign_jws("RS256", KEY, {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "sub": "system:serviceaccount:%s:%s" % (ns, name)})


REVIEWER = sa_jwt("kube-system", "consul-reviewer")
TOKENS = {
    "valid": sa_jwt("default", "web"),
    "annotated": sa_jwt("default", "annotated"),
    "rejected": sa_jwt("default", "evil"),
    "error": sa_jwt("default", "old"),
    "notsa": sa_jwt("default", "human"),
}
UIDS = {name: str(uuid.uuid4()) for name in TOKENS}
ANNOTATIONS = {("default", "annotated"):
               {"consul.hashicorp.com/service-name": "Override-Svc"}}


def status(code, msg):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": msg, "reason": "Unauthorized" if code == 401 else "",
            "code": code}


class Handler(common.FakeHandler):
    state = common.FakeState()

    def authorized(self):
        return self.headers.get("Authorization") == "Bearer " + REVIEWER

    def route(self, method, path, query, body):
        if not self.authorized():
            return self.reply(401, status(401, "Unauthorized"))
        if path == "/apis/authentication.k8s.io/v1/tokenreviews" and \
                method == "POST":
            req = json.loads(body or b"{}")
            tok = req.get("spec", {}).get("token", "")
            out = {"kind": "TokenReview",
                   "apiVersion": "authentication.k8s.io/v1",
                   "spec": {"token": tok}, "status": {}}
            which = next((k for k, v in TOKENS.items() if v == tok), None)
            if which in ("valid", "annotated"):
                name = "web" if which == "valid" else "annotated"
                out["status"] = {"authenticated": True, "user": {
                    "username": "system:serviceaccount:default:" + name,
                    "uid": UIDS[which],
                    "groups": ["system:serviceaccounts"]}}
            elif which == "error":
                out["status"] = {"error": "token has expired"}
            elif which == "notsa":
                out["status"] = {"authenticated": True, "user": {
                    "username": "system:node:worker:1", "uid": UIDS[which]}}
            else:
                out["status"] = {"authenticated": False}
            return self.reply(201, out)
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 6 and parts[:3] == \
                ["api", "v1", "namespaces"] and parts[4] == "serviceaccounts":
            ns, name = parts[3], parts[5]
            meta = {"name": name, "namespace": ns, "uid": str(uuid.uuid4())}
            ann = ANNOTATIONS.get((ns, name))
            if ann:
                meta["annotations"] = ann
            return self.reply(200, {"kind": "ServiceAccount",
                                    "apiVersion": "v1", "metadata": meta})
        return self.reply(404, status(404, "the server could not find the "
                                      "requested resource"))


def main():
    args = common.arg_parser(__doc__).parse_args()
    common.serve(Handler, lambda url: {"reviewer_jwt": REVIEWER,
                                       "tokens": TOKENS}, args)


if __name__ == "__main__":
    main()
