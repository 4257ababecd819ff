"""`keysweep scan kubernetes`: Secrets, ConfigMaps and workloads' literal env values, read-only."""

from __future__ import annotations

import click

from keysweep.cli import output_options, scan_options, store_options
from keysweep.commands._remote import SCOPE_PROGRESS, remote_options, run_remote
from keysweep.scanner.sources.kubernetes import KINDS, KubernetesSource
from keysweep.settings import owner_tag_names


@click.command("kubernetes")
@click.option("--kubeconfig", type=click.Path(dir_okay=False),
              help="Kubeconfig file. Default: $KUBECONFIG (files merged), else ~/.kube/config.")
@click.option("--context", "contexts", multiple=True,
              help="Context to read (repeatable). Default: the kubeconfig's current context.")
@click.option("--namespace", "namespaces", multiple=True,
              help="Namespace to read (repeatable). Default: every namespace the credentials can list.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(tuple(KINDS)),
              help="Only these kinds (repeatable). Default: all of them.")
@remote_options(max_age=False, progress=SCOPE_PROGRESS)
@output_options
@store_options
@scan_options
def scan_kubernetes_cmd(kubeconfig, contexts, namespaces, kinds, **options):
    """Kubernetes: every Secret value (base64-decoded; docker config auths decoded too), every
    ConfigMap value, and the literal env values of Deployments, StatefulSets, DaemonSets, CronJobs and
    Jobs are matched in memory. Only list and get are used; objects unchanged since the last scan
    (same resourceVersion) are not matched again."""

    def build(settings):
        source = KubernetesSource(kubeconfig=kubeconfig, contexts=contexts, namespaces=namespaces,
                                  kinds=kinds or tuple(KINDS), hint_names=owner_tag_names(settings))
        source.check()
        return [source]

    run_remote(build, **options)
