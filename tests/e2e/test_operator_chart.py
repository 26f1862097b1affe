"""The chart's rendered manifests are valid for the cluster's API server (server-side dry run)."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import REPO_ROOT
from tests.e2e.operator_fixtures import helm_binary


@pytest.mark.parametrize("extra", [[], ["--set", "watchNamespaces={team-a,team-b}"]])
def test_rendered_chart_passes_server_side_validation(cluster, extra):
    rendered = subprocess.run(
        [helm_binary(), "template", "modelops", str(REPO_ROOT / "charts" / "modelops"),
         "--namespace", "default", "--kube-version", "1.33.0", "--api-versions",
         "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy", *extra],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    # Namespaced objects of absent namespaces cannot be dry-run; keep the cluster-wide ones.
    if extra:
        rendered = "\n---\n".join(
            d for d in rendered.split("\n---\n") if "namespace: team-" not in d
        )
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--dry-run=server",
         "-f", "-"],
        input=rendered, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(server dry run)" in done.stdout
