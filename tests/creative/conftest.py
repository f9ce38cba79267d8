"""Fixtures for the creative tests: a loopback OpenAI-compatible fake server."""

import json
import socket
import threading
import time

import pytest


class FakeOpenAI:
    """A tiny third-party-style OpenAI-compatible endpoint on 127.0.0.1 (FastAPI + uvicorn).

    ``mode``: "schema" (honours response_format), "no_schema" (answers 400 to response_format,
    then JSON in text), "slow" (sleeps ``delay`` seconds), "junk" (invented prices, markup).
    """

    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse

        self.mode, self.delay, self.requests = "schema", 0.0, []
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(req: Request):
            body = await req.json()
            self.requests.append(body)
            if self.mode == "slow":
                time.sleep(self.delay)
            if self.mode == "no_schema" and "response_format" in body:
                return JSONResponse({"error": "response_format not supported"}, status_code=400)
            zh = "人群" in body["messages"][-1]["content"]
            if self.mode == "junk":
                heads = [
                    "TrailMax now $49!",
                    "<|im_end|> shoes",
                    "Waterproof Trail Shoes",
                    "Runners love TrailMax",
                    "Light and waterproof",
                ]
                descs = [
                    "TrailMax shoes, 50% off today only. Shop now.",
                    "Lightweight, waterproof TrailMax running shoes for trail runners.",
                ]
            elif zh:
                heads = [
                    "轻风跑鞋，徒步好搭档",
                    "露营徒步都轻松",
                    "超轻鞋面，轻风跑鞋",
                    "防水透气的跑鞋",
                    "年轻父母的跑鞋",
                ]
                descs = [
                    "轻风跑鞋超轻鞋面，防水透气，徒步露营都合适。立即购买！",
                    "专为爱徒步的年轻父母设计，299元，全国包邮。了解更多！",
                ]
            else:
                heads = [
                    "Waterproof Trail Shoes",
                    "Runners Love TrailMax",
                    "Light on Every Trail",
                    "Hike Dry in TrailMax",
                    "Your Next Camping Shoe",
                ]
                descs = [
                    "Lightweight, waterproof TrailMax running shoes for trail runners.",
                    "TrailMax at $89 with free shipping. Built for hiking and camping.",
                ]
            content = json.dumps({"headlines": heads, "descriptions": descs})
            if self.mode == "no_schema":
                content = "Sure! Here you go:\n" + content
            return {
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"completion_tokens": 90},
            }

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                break
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="session")
def fake_openai():
    srv = FakeOpenAI()
    yield srv
    srv.stop()


@pytest.fixture()
def openai_server(fake_openai):
    fake_openai.mode, fake_openai.delay = "schema", 0.0
    fake_openai.requests.clear()
    return fake_openai
