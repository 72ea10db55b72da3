"""Campaigns: ads grouped into templates (the re-posts of one ad, near-duplicates after
normalisation, in any script) and networks (templates joined by a shared contact).

    from nigehbaan.inference.cluster import cluster_file, template_labels, network_labels

See near_dup.py (templates), contacts.py (networks, hub guard), summary.py (the --clusters
rows) and command.py (`nigehbaan cluster`).
"""

from nigehbaan.inference.cluster.command import ClusterSummary, cluster_file
from nigehbaan.inference.cluster.contacts import (
    HUB_CAP,
    PLATFORM_DOMAINS,
    contact_keys,
    network_labels,
)
from nigehbaan.inference.cluster.near_dup import (
    TemplateConfig,
    ad_shingles,
    masked_tokens,
    template_labels,
)
from nigehbaan.inference.cluster.summary import template_text

__all__ = [
    "HUB_CAP", "PLATFORM_DOMAINS", "ClusterSummary", "TemplateConfig", "ad_shingles",
    "cluster_file", "contact_keys", "masked_tokens", "network_labels", "template_labels",
    "template_text",
]
