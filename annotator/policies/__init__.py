"""Who may see and do what in the annotation app: the one place that answers it, one module
per resource (as Argilla's `policies/`). Routes and pages call these, then the store; the store
itself guards data invariants only (see `fgtext.store`).

Roles (`fgtext.vocabulary.Role`): `admin` (everything, every project), `reviewer` (their
projects: everyone's labels, agreement, adjudication), `annotator` (their projects: the next
clip, their own labels only). Annotation is blind: another person's annotation, and any project
or clip outside one's own projects, answer 404 exactly as if it did not exist, so nothing about
it leaks. A 403 is only for things the user can see but their role may not do.

- `projects`: see, review, administer and annotate a project
- `clips`: see, review and label a clip (through its project), and its suggestions
- `annotations`: read and edit an annotation
- `users`: manage users
"""

from annotator.policies import annotations, clips, projects, users
from annotator.policies._rules import reviews

__all__ = ["annotations", "clips", "projects", "reviews", "users"]
