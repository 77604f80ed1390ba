"""The staff console: the menu as a picture, its prompts to read and hear, and the reports
as charts, behind a sign-in (`ivr console`).

`app.create_app` builds the ASGI application from the pages listed in `app.PAGES`; each
page module gives its routes (`site.Page`), and protects them with the dependencies of
`access` (`require_login`, `require_editor`, `require_csrf`).
"""
