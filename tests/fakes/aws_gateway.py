"""A gateway in front of moto's server (the AWS endpoint keysweep is pointed at): every request is
passed on to moto as it came, except the AWS actions named in `intermediary` (`"iam:UpdateAccessKey"`,
`"secretsmanager:PutSecretValue"`, `"ssm:PutParameter"`, …), which it answers itself with a
(status, content_type, body) reply — never reaching AWS — or, with `forwards = True`, after AWS
handled them (the action taken, its answer lost). The action is read as AWS's protocols carry it:
`Action=` in a query-protocol form body (IAM, STS), the `X-Amz-Target` header for JSON protocols
(Secrets Manager `secretsmanager.PutSecretValue`, SSM `AmazonSSM.PutParameter`)."""

from __future__ import annotations

from urllib.parse import parse_qs

from tests.fakes.serving import ThreadedApp

_PREFIXES = {"secretsmanager": "secretsmanager", "AmazonSSM": "ssm"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


class AwsGateway(ThreadedApp):
    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.actions: list[str] = []  # every action seen, in order

    @staticmethod
    def action(headers, body: bytes) -> str:
        target = headers.get("X-Amz-Target", "")
        if target:
            prefix, _, name = target.partition(".")
            return f"{_PREFIXES.get(prefix, prefix)}:{name}"
        form = parse_qs(body.decode("utf-8", "replace"))
        scope = headers.get("Authorization", "").split("Credential=", 1)[-1].split("/")
        service = scope[3] if len(scope) > 3 else "?"
        return f"{service}:{(form.get('Action') or ['?'])[0]}"

    async def _record(self, request):
        from aiohttp import ClientSession, web

        body = await request.read()
        action = self.action(request.headers, body)
        self.actions.append(action)
        reply = self.intermediary.get(action)
        forward = reply is None or self.forwards
        if forward:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
            async with ClientSession(auto_decompress=False) as session:
                async with session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                           data=body, allow_redirects=False) as answer:
                    payload = await answer.read()
                    upstream = web.Response(status=answer.status, body=payload, headers={
                        k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP})
        if reply is None:
            return upstream
        status, content_type, text = reply
        return web.Response(status=status, body=text, content_type=content_type)
