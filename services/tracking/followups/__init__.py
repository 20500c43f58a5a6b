"""Follow-ups (跟进记录) and appointments on the tracking sheet, and the sheet's print."""
