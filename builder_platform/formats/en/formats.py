# English's own formats drop the seconds ("Dec. 3, 2026, 7:54 a.m."), so two events of one order in
# the same minute could not be put in order by reading them. Admin lists, inlines and detail pages
# format every datetime through these (settings.FORMAT_MODULE_PATH). Times are in settings.TIME_ZONE
# (UTC), named by "T".
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
TIME_FORMAT = "H:i:s"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
