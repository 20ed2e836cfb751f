"""The console: Keyplane's web pages for a vendor's staff, served at ``/console`` by
``keyplane serve``. Server-rendered (Jinja2), readable without JavaScript, and acting only
through the same services as the API, as the signed-in user."""
