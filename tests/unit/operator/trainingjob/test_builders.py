"""A TrainingJob's builders: the Job of a run or a trial, the CronJob, the version."""

from __future__ import annotations

from modelops_operator import names
from modelops_operator.api.schema import parse
from modelops_operator.api.trainingjob import TrainingJobSpec
from modelops_operator.meta import Owner
from modelops_operator.trainingjob.builders import (
    PARAMETERS_ANNOTATION,
    Baseline,
    TrainerInputs,
    cron_job,
    job,
    produced_version,
    workers_service,
)

OWNER = Owner("TrainingJob", "ctr-daily", "team", "uid-t")
PACKAGE = {"model": "ctr", "package": "s3://b/trainer-0.1.tar.gz", "module": "trainer.train"}


def inputs(run_date="2026-11-27T03:00:00Z", baseline=None, **spec):
    parsed = parse(TrainingJobSpec, {**PACKAGE, **spec})
    return TrainerInputs(OWNER, parsed, "runtime:1", "s3://models", run_date, baseline, "s3")


def pod(manifest):
    return manifest["spec"]["template"]["spec"]


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_a_package_run_is_the_runtime_entrypoint_with_the_users_args():
    manifest = job(inputs(args=["--days=7"]), "ctr-daily")
    assert manifest["metadata"]["labels"][names.TRAINING_JOB_LABEL] == "ctr-daily"
    assert manifest["metadata"]["ownerReferences"][0]["kind"] == "TrainingJob"
    container = pod(manifest)["containers"][0]
    assert container["command"] == ["python", "-m", "modelops_runtime"]
    assert container["args"] == [
        "train", "--output", "s3://models/team/ctr/$(MODELOPS_JOB_NAME)/",
        "--termination-log", "/dev/termination-log", "--work-dir", "/work",
        "--package", "s3://b/trainer-0.1.tar.gz", "--module", "trainer.train", "--", "--days=7",
    ]  # fmt: skip
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod(manifest)["restartPolicy"] == "Never"
    assert manifest["spec"]["backoffLimit"] == 0


def test_the_trainer_contract_reaches_the_code():
    found = env_of(
        pod(job(inputs(baseline=Baseline("ctr-1", "s3://m/ctr/1/")), "x"))["containers"][0]
    )
    assert found["MODELOPS_MODEL_DIR"] == "/work/model"
    assert found["MODELOPS_RUN_DATE"] == "2026-11-27T03:00:00Z"
    assert found["MODELOPS_JOB_NAME"] == {
        "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}
    }
    assert found["MODELOPS_VERSION"] == "$(MODELOPS_JOB_NAME)"
    assert found["MODELOPS_BASELINE_URI"] == "s3://m/ctr/1/"
    assert found["MODELOPS_BASELINE_VERSION"] == "ctr-1"
    assert "MODELOPS_SCHEDULE" not in found


def test_a_trial_carries_its_hyperparameters_on_their_own_channel_and_in_an_annotation():
    """The trainer gets them as --name=value after the user's own arguments, but they reach
    the entrypoint as --hyperparameter options, so only they are recorded as such (a
    user's --data=s3://... is an argument, not a hyperparameter)."""
    manifest = job(inputs(args=["--data=s3://b/d"]), "ctr-daily-t3",
                   {"max_depth": "4", "eta": "0.1"})  # fmt: skip
    args = pod(manifest)["containers"][0]["args"]
    ours, _, theirs = _split(args)
    assert ours[-4:] == ["--hyperparameter", "eta=0.1", "--hyperparameter", "max_depth=4"]
    assert theirs == ["--data=s3://b/d"]
    assert manifest["metadata"]["annotations"][PARAMETERS_ANNOTATION] == (
        '{"eta": "0.1", "max_depth": "4"}'
    )


def _split(args: list[str]) -> tuple[list[str], str, list[str]]:
    at = args.index("--")
    return args[:at], "--", args[at + 1 :]


def test_an_image_trainer_runs_first_and_the_runtime_collects_its_model():
    image = {"package": None, "module": None, "image": "me/trainer:1",
             "command": ["python", "train.py"], "args": ["--x=1"]}  # fmt: skip
    manifest = job(inputs(**image), "j")
    spec = pod(manifest)
    user = spec["initContainers"][0]
    assert (user["image"], user["command"], user["args"]) == (
        "me/trainer:1", ["python", "train.py"], ["--job-dir", "/work/model", "--x=1"],
    )  # fmt: skip
    assert env_of(user)["MODELOPS_MODEL_DIR"] == "/work/model"
    collect = spec["containers"][0]
    assert collect["name"] == "collect"
    assert collect["args"][-1] == "--collect"
    assert "--package" not in collect["args"]
    trial = pod(job(inputs(**image), "j", {"eta": "0.1"}))
    assert trial["initContainers"][0]["args"][-1] == "--eta=0.1"  # the trainer gets it
    assert trial["containers"][0]["args"][-3:] == ["--hyperparameter", "eta=0.1", "--collect"]


def test_limits_deadline_and_retries():
    manifest = job(inputs(resources={"limits": {"memory": "256Mi"}}, backoffLimit=2,
                          activeDeadlineSeconds=600), "j")  # fmt: skip
    assert manifest["spec"]["backoffLimit"] == 2
    assert manifest["spec"]["activeDeadlineSeconds"] == 600
    assert pod(manifest)["containers"][0]["resources"] == {"limits": {"memory": "256Mi"}}


def test_a_schedule_is_a_cronjob_that_never_overlaps():
    scheduled = inputs(run_date="", schedule={"cron": "0 3 * * *", "timeZone": "Europe/Paris",
                                              "historyLimit": 5})  # fmt: skip
    manifest = cron_job(scheduled)
    spec = manifest["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (
        "0 3 * * *", "Europe/Paris", "Forbid",
    )  # fmt: skip
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 5
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    found = env_of(container)
    assert found["MODELOPS_SCHEDULE"] == "ctr-daily"  # the run's time comes from its Job's name
    assert "MODELOPS_RUN_DATE" not in found


def test_the_produced_version_belongs_to_the_model_and_names_its_run():
    model = Owner("Model", "ctr", "team", "uid-m")
    version = produced_version(
        model, name="ctr-daily-29400000", training_job="ctr-daily", run="ctr-daily-29400000",
        artifact={"uri": "s3://models/ctr/ctr-daily-29400000/", "sha256": "a" * 64},
        runtime_version=None, promotion="rejected",
    )  # fmt: skip
    assert version["metadata"]["ownerReferences"][0]["uid"] == "uid-m"
    assert version["metadata"]["labels"][names.PROMOTION_LABEL] == "rejected"
    assert version["metadata"]["labels"][names.RUN_LABEL] == "ctr-daily-29400000"
    assert version["spec"] == {
        "model": "ctr",
        "artifact": {"uri": "s3://models/ctr/ctr-daily-29400000/", "sha256": "a" * 64},
    }


# --- several workers ----------------------------------------------------------------------


def test_one_worker_is_the_single_pod_job_with_no_worker_fields():
    manifest = job(inputs(), "ctr-daily")
    spec = manifest["spec"]
    assert "completionMode" not in spec
    assert "backoffLimitPerIndex" not in spec
    assert "subdomain" not in pod(manifest)
    assert "MODELOPS_RANK" not in env_of(pod(manifest)["containers"][0])


def test_n_workers_are_one_indexed_job_that_retries_the_whole_group():
    manifest = job(inputs(workers=3, backoffLimit=2, resources={"limits": {"memory": "1Gi"}}),
                   "ctr-daily")  # fmt: skip
    spec = manifest["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    # Every index fails once per lost attempt: a per-index limit retries the group, and
    # the first index past it fails the run at once.
    assert (spec["backoffLimitPerIndex"], spec["maxFailedIndexes"]) == (2, 0)
    assert "backoffLimit" not in spec
    assert pod(manifest)["subdomain"] == "ctr-daily-workers" == names.training_workers("ctr-daily")
    container = pod(manifest)["containers"][0]
    assert container["resources"] == {"limits": {"memory": "1Gi"}}  # per worker
    found = env_of(container)
    assert found["MODELOPS_WORLD_SIZE"] == "3"
    assert found["MODELOPS_RANK"] == {
        "fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        }
    }
    assert found["MODELOPS_ATTEMPT"] == {
        "fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-index-failure-count']"
        }
    }
    assert found["MODELOPS_TRACKER_HOST"] == "$(MODELOPS_JOB_NAME)-0.ctr-daily-workers"
    assert found["MODELOPS_TRACKER_PORT"] == "9091"
    assert found["MODELOPS_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    names_in_order = [e["name"] for e in container["env"]]  # $(...) needs it defined before
    assert names_in_order.index("MODELOPS_JOB_NAME") < names_in_order.index(
        "MODELOPS_TRACKER_HOST")  # fmt: skip


def test_a_scheduled_or_searched_run_of_n_workers_shares_the_same_shape():
    schedule = cron_job(inputs(run_date="", workers=2, schedule={"cron": "0 3 * * *"}))
    assert schedule["spec"]["jobTemplate"]["spec"]["completions"] == 2
    trial = job(inputs(workers=2), "ctr-daily-t1", {"eta": "0.1"})
    assert pod(trial)["subdomain"] == "ctr-daily-workers"


def test_the_workers_service_is_headless_and_publishes_pods_before_they_are_ready():
    service = workers_service(inputs(workers=3))
    assert service["metadata"]["name"] == "ctr-daily-workers"
    assert service["metadata"]["ownerReferences"][0]["kind"] == "TrainingJob"
    assert names.MODEL_LABEL not in service["metadata"]["labels"]
    spec = service["spec"]
    assert (spec["clusterIP"], spec["publishNotReadyAddresses"]) == ("None", True)
    assert spec["selector"] == {names.TRAINING_JOB_LABEL: "ctr-daily",
                                names.COMPONENT: names.TRAINER}  # fmt: skip
    assert job(inputs(workers=3), "x")["spec"]["template"]["metadata"]["labels"].items() >= (
        spec["selector"].items())  # fmt: skip


def test_two_namespaces_jobs_of_the_same_names_write_apart():
    def output_of(namespace):
        owner = Owner("TrainingJob", "ctr-daily", namespace, "uid")
        given = TrainerInputs(owner, parse(TrainingJobSpec, PACKAGE), "runtime:1", "s3://models")
        args = pod(job(given, "ctr-daily"))["containers"][0]["args"]
        return args[args.index("--output") + 1]

    assert output_of("team-a") == "s3://models/team-a/ctr/$(MODELOPS_JOB_NAME)/"
    assert output_of("team-b") == "s3://models/team-b/ctr/$(MODELOPS_JOB_NAME)/"


def test_the_package_index_is_the_specs_else_the_operators_and_reaches_the_entrypoint():
    def index_args(spec_index, operators):
        extra = {"packageIndex": spec_index} if spec_index else {}
        given = TrainerInputs(OWNER, parse(TrainingJobSpec, {**PACKAGE, **extra}), "runtime:1",
                              "s3://models", package_index=operators)  # fmt: skip
        args = pod(job(given, "ctr-daily"))["containers"][0]["args"]
        return [a for i, a in enumerate(args) if "index" in a or "index" in args[i - 1]]

    ours = ("https://pi.team/simple", "https://extra.team/simple")
    assert index_args(None, ()) == []
    assert index_args(None, ours) == [
        "--index-url", "https://pi.team/simple", "--extra-index-url", "https://extra.team/simple",
    ]  # fmt: skip
    assert index_args({"url": "https://own.example/simple"}, ours) == [
        "--index-url", "https://own.example/simple",
    ]  # fmt: skip


def test_the_operators_package_index_comes_from_the_chart_value():
    from modelops_operator.settings import Settings

    env = {"MODELOPS_PACKAGE_INDEX": "https://pi.team/simple, https://extra.team/simple"}
    assert Settings.from_env(env).package_index == (
        "https://pi.team/simple", "https://extra.team/simple")  # fmt: skip
    assert Settings.from_env({"MODELOPS_PACKAGE_INDEX": ""}).package_index == ()
