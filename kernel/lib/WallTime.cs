// Calendar arithmetic for the wall clock: a civil date to seconds since the Unix epoch, and back
// to text. Pure logic, shared with the host tests (proleptic Gregorian calendar, UTC).
static class WallTime
{
    /// <summary>Seconds since 1970-01-01T00:00:00Z, or 0 when a field is out of range.</summary>
    public static long ToEpochSeconds(int year, int month, int day, int hour, int minute, int second)
    {
        if (month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
            return 0;
        return DaysFromCivil(year, month, day) * 86400L + hour * 3600L + minute * 60L + second;
    }

    /// <summary>Days from 1970-01-01 to the given date (negative before it).</summary>
    public static long DaysFromCivil(int year, int month, int day)
    {
        // Count years from March so the leap day is the last day of the "year".
        long y = month <= 2 ? year - 1 : year;
        long era = (y >= 0 ? y : y - 399) / 400;
        long yoe = y - era * 400;
        long mp = (month + 9) % 12;
        long doy = (153 * mp + 2) / 5 + day - 1;
        long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
    }

    /// <summary>Splits epoch seconds into a civil date and time.</summary>
    public static void FromEpochSeconds(long seconds, out int year, out int month, out int day, out int hour, out int minute, out int second)
    {
        long days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
        long rem = seconds - days * 86400;
        hour = (int)(rem / 3600); minute = (int)(rem % 3600 / 60); second = (int)(rem % 60);
        long z = days + 719468;
        long era = (z >= 0 ? z : z - 146096) / 146097;
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        day = (int)(doy - (153 * mp + 2) / 5 + 1);
        month = (int)(mp < 10 ? mp + 3 : mp - 9);
        year = (int)(yoe + era * 400 + (month <= 2 ? 1 : 0));
    }
}
