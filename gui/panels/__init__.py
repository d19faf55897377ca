"""Panel widgets: the parts pages are made of, each one job (a form card, a summary, a preview).

A page in `gui/pages/` composes panels and wires them to the session; a panel binds its own
controls to config paths through `gui.binding.FormBinding` and never reaches into another.
"""
