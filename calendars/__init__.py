"""Calendar sources that turn room calendars into normalised ``CalendarEvent`` values."""
