"""The peer: Django REST framework with djangorestframework-api-key, measured live.

``python -m bench.peer`` (``bench/peer/run.py``) serves a minimal Django project (this
package: ``settings``, ``urls``, ``asgi``, ``wsgi``) whose one endpoint, ``POST /verify``, is
an ``APIView`` with ``permission_classes = [HasAPIKey]``, and loads it with wrk, each request
carrying one of ``--keys`` minted keys in ``Authorization: Api-Key <key>``.

How djangorestframework-api-key 3.1.0 checks a key (read from its source): a key is
``<prefix>.<secret>``, an 8-character prefix and a 32-character secret, both
``django.utils.crypto.get_random_string`` (letters and digits). ``create_key`` stores the
prefix (unique, indexed) and ``hashed_key = make_password(key, hasher=Sha512ApiKeyHasher())``:
``"sha512$$" + hashlib.sha512(key).hexdigest()``, unsalted (the key has the entropy), and the
primary key ``prefix + "." + hashed_key``. ``HasAPIKey`` parses the header, fetches the
unrevoked row by prefix (one SELECT per request: nothing is cached), hashes the presented key
the same way and compares with ``constant_time_compare``, then checks ``expiry_date``. Keys
hashed by an older version with Django's password hashers (PBKDF2) are checked with
``check_password`` and rehashed to SHA-512 once; the keys minted here never take that path.

Needs the ``peer`` extra (``pip install -e '.[peer]'``); nothing here imports Django but the
Django project's own modules, so ``import bench.peer`` and mypy work without it.
"""
