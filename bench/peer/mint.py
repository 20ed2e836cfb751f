"""``python -m bench.peer.mint COUNT FILE``: migrate the peer's database (``KEYPLANE_PEER_DB``)
and mint COUNT keys with the library's own ``APIKey.objects.create_key``, writing their
plaintexts to FILE, one a line. A process of its own, so that Django's settings (read once
per process) never live in the process that measures."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(count: int, out: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework_api_key.models import APIKey
    from rich.progress import Progress

    call_command("migrate", verbosity=0)
    # One transaction: a commit (an fsync) per key would make this the slow part of the run.
    with transaction.atomic(), out.open("w") as handle, Progress(transient=True) as progress:
        task = progress.add_task(f"minting {count:,} keys (APIKey.objects.create_key)", total=count)
        for number in range(count):
            _, key = APIKey.objects.create_key(name=f"bench-{number}")
            handle.write(key + "\n")
            progress.advance(task)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
