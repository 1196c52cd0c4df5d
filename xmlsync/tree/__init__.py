"""The MiniCRM tree, described once: its elements (:mod:`~xmlsync.tree.fields`), the kinds of their values
(:mod:`~xmlsync.tree.kinds`), the typed records made from it (:mod:`~xmlsync.tree.records`), XPaths and lines
of its elements (:mod:`~xmlsync.tree.paths`) and the country names MiniCRM matches
(:mod:`~xmlsync.tree.countries`). Everything else reads these; they read nothing of the rest but
:mod:`xmlsync.config` and :mod:`xmlsync.errors`."""
