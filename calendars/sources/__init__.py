"""The calendar adapters, one module per service, each with its converters beside it.

``google``, ``graph`` (Microsoft 365), ``exchange`` (EWS, on premises), ``caldav`` and ``ics``
implement ``calendars.base.CalendarSource``; ``*_events`` modules turn a service's event resource
into a ``CalendarEvent`` (pure). ``calendars.registry`` builds a source from its configuration.
"""
