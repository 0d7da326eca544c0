"""Locust load test for the example service, in the seed guide's tests/load_test.py style.

    pip install locust
    locust -f bench/load_test.py --host http://localhost:3000      # web UI on :8089
    locust -f bench/load_test.py --host http://localhost:3000 --headless -u 64 -r 16 -t 30s
"""
import os

from locust import HttpUser, between, task

IMAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services", "vision-classifier", "samples", "test_image.jpg")


class VisionAPIUser(HttpUser):
    wait_time = between(1, 3)

    @task
    def predict_image(self):
        with open(IMAGE, "rb") as f:
            self.client.post("/predict_image", files={"image": f})

    @task
    def health_check(self):
        self.client.get("/health")
