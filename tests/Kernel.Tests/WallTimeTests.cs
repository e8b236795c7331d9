// The RTC's civil date to Unix time and back, checked against .NET's own calendar.
namespace Kernel.Tests;

public class WallTimeTests
{
    [Theory]
    [InlineData(1970, 1, 1, 0, 0, 0)]
    [InlineData(2000, 2, 29, 12, 30, 45)]
    [InlineData(2026, 11, 21, 23, 59, 59)]
    [InlineData(2099, 12, 31, 23, 59, 59)]
    [InlineData(1969, 12, 31, 23, 59, 59)]
    public void ToEpochSeconds_AgreesWithDotNet(int y, int mo, int d, int h, int mi, int s)
    {
        long expected = new DateTimeOffset(y, mo, d, h, mi, s, TimeSpan.Zero).ToUnixTimeSeconds();
        Assert.Equal(expected, WallTime.ToEpochSeconds(y, mo, d, h, mi, s));
    }

    [Fact]
    public void EveryDayOfFourCenturies_RoundTrips()
    {
        var day = new DateTime(1900, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (int i = 0; i < 146097; i++, day = day.AddDays(1))
        {
            long secs = WallTime.ToEpochSeconds(day.Year, day.Month, day.Day, 13, 14, 15);
            Assert.Equal(new DateTimeOffset(day.AddHours(13).AddMinutes(14).AddSeconds(15)).ToUnixTimeSeconds(), secs);
            WallTime.FromEpochSeconds(secs, out int y, out int mo, out int d, out int h, out int mi, out int s);
            Assert.Equal((day.Year, day.Month, day.Day, 13, 14, 15), (y, mo, d, h, mi, s));
        }
    }

    [Theory]
    [InlineData(2026, 13, 1, 0, 0, 0)]
    [InlineData(2026, 0, 1, 0, 0, 0)]
    [InlineData(2026, 1, 0, 0, 0, 0)]
    [InlineData(2026, 1, 1, 24, 0, 0)]
    [InlineData(2026, 1, 1, 0, 60, 0)]
    public void NonsenseFromTheClock_GivesZero(int y, int mo, int d, int h, int mi, int s)
        => Assert.Equal(0, WallTime.ToEpochSeconds(y, mo, d, h, mi, s));
}
