"""A person's everyday calls with the official Kubernetes Python client, against the emulator.

Usage: python3 everyday.py KUBECONFIG. Prints one JSON object with what each call saw; the
test (../python-client.test.ts) checks it.
"""
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
custom = client.CustomObjectsApi()
seen = {}

core.create_namespace({"metadata": {"name": "py"}})
labels = {"app": "web"}
apps.create_namespaced_deployment("py", {
    "metadata": {"name": "web", "labels": labels},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
    },
})
seen["deployments"] = [d.metadata.name for d in apps.list_namespaced_deployment("py").items]

# watch=True: the client asks for a stream and reads one event per line.
added = set()
stream = watch.Watch()
for event in stream.stream(core.list_namespaced_pod, "py", timeout_seconds=10):
    if event["type"] == "ADDED":
        added.add(event["object"].metadata.name)
    if len(added) >= 2:
        stream.stop()
seen["watchedPods"] = len(added)

scaled = apps.patch_namespaced_deployment_scale("web", "py", {"spec": {"replicas": 3}})
seen["scaledTo"] = scaled.spec.replicas

route = custom.create_namespaced_custom_object(
    "gateway.networking.k8s.io", "v1", "py", "httproutes",
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "shop"},
     "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "shop", "port": 80}]}]}},
)
seen["backendRef"] = route["spec"]["rules"][0]["backendRefs"][0]

try:
    custom.create_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", "py", "httproutes",
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "bad"},
         "spec": {"rules": [{"backendRefs": [{"name": "shop"}]}]}},
    )
    seen["refused"] = None
except ApiException as e:
    seen["refused"] = {"status": e.status, "message": json.loads(e.body)["message"]}

try:
    apps.read_namespaced_deployment("missing", "py")
except ApiException as e:
    seen["missing"] = e.status

print(json.dumps(seen))
