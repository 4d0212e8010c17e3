"""Date and time formats that replace the locale's: every time shown to people carries its seconds."""
