"""Scorecards (考核表, issue 10; 001 §7.2.2.2, 002 §8.1.4): the handling figures of a period per station, staff member,
service organization or category, in the JSON shape the console joins with evaluation's and intake's."""
