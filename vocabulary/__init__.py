"""The product's words, shared by every channel: the chat (bot/), the API and the pages
(webhooks/), the desk, the documents, the CLI and the worker.

Each table here names one kind of thing once (groups, voucher statuses, certificates, levels;
the wording of domain errors; the reasons a subsidy is or is not paid). A table maps a value to
an English message id marked with ``N_``; it is translated where it is shown, through
``locales.Translator``. Nothing here reads the database, signs a link or keeps state: only
``locales`` and ``models`` (for the values being named) are imported.
"""
