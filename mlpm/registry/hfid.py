"""Names on the Hugging Face Hub: repository ids and the package names mlpm gives them.

Here, below the project and the sources, because the manifest checks a dependency's
``hf = "ORG/REPO"`` when it is read, and the lock checks a locked ``hf:ORG/REPO`` source.
"""

from __future__ import annotations

import re

# huggingface_hub.utils._validators.REPO_ID_REGEX (2.4.0), with the same flags
_REPO_ID = re.compile(r"(\b[\w\-.]{1,96}\b/)?\b[\w\-.]{1,96}\b", re.ASCII)


def check_repo_id(text: str) -> str:
    """``text`` if it is a Hugging Face repo id, else ValueError.

    The rules of huggingface_hub's ``validate_repo_id``: ``NAME`` or ``NAMESPACE/NAME``,
    each part 1 to 96 ASCII letters, digits, ``-``, ``_`` or ``.``, not starting or
    ending with ``-`` or ``.``; no ``--`` or ``..``; not ending in ``.git``.

        >>> check_repo_id("google-bert/bert-base-uncased")
        'google-bert/bert-base-uncased'
        >>> check_repo_id("org/a--b")
        Traceback (most recent call last):
        ...
        ValueError: 'org/a--b' is not a Hugging Face repo id: it has '--' or '..'; use the \
id shown on the model's page, like 'org/name'.
    """
    fix = "use the id shown on the model's page, like 'org/name'."
    if not isinstance(text, str):
        raise ValueError(f"a Hugging Face repo id must be text, not {type(text).__name__}.")
    shown = repr(text[:200])
    if text.count("/") > 1:
        raise ValueError(f"{shown} is not a Hugging Face repo id: it has more than one '/'; "
                         f"{fix}")
    if not _REPO_ID.fullmatch(text):
        raise ValueError(f"{shown} is not a Hugging Face repo id: use 1 to 96 ASCII letters, "
                         "digits, '-', '_' or '.' per part, not starting or ending with '-' "
                         f"or '.'; {fix}")
    if "--" in text or ".." in text:
        raise ValueError(f"{shown} is not a Hugging Face repo id: it has '--' or '..'; {fix}")
    if text.endswith(".git"):
        raise ValueError(f"{shown} is not a Hugging Face repo id: it ends in '.git'; {fix}")
    return text



def package_name(repo_id: str) -> str | None:
    """The package name a repository gets by default: its last part, lower-cased (None when
    that is not a valid package name, and ``--name`` must choose one).

    >>> package_name("sentence-transformers/all-MiniLM-L6-v2")
    'all-minilm-l6-v2'
    """
    from mlpm.registry.records import check_name

    name = repo_id.rsplit("/", 1)[-1].lower()
    try:
        return check_name(name)
    except ValueError:
        return None
