/// The IMF-fixdate of RFC 9110 §5.6.7 (`Sun, 06 Nov 1994 08:49:37 GMT`), formatted without
/// Foundation, and a per-core cache so it is formatted at most once a second.
public enum HTTPDate {
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Formats seconds since the Unix epoch (UTC).
    public static func format(epochSeconds: Int64) -> String {
        let secs = max(epochSeconds, 0)
        let dayNumber = secs / 86_400
        let secOfDay = Int(secs % 86_400)
        let weekday = days[Int(dayNumber % 7)]
        let (year, month, day) = civil(dayNumber: dayNumber)
        return "\(weekday), \(two(day)) \(months[month - 1]) \(year) "
            + "\(two(secOfDay / 3600)):\(two(secOfDay / 60 % 60)):\(two(secOfDay % 60)) GMT"
    }

    /// ISO 8601 in UTC with milliseconds (`2026-12-06T15:10:44.123Z`), for JSON.
    public static func iso8601(unixMillis: Int64) -> String {
        let millis = max(unixMillis, 0)
        let secs = millis / 1000
        let secOfDay = Int(secs % 86_400)
        let (year, month, day) = civil(dayNumber: secs / 86_400)
        let ms = Int(millis % 1000)
        let fraction = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(year)-\(two(month))-\(two(day))T"
            + "\(two(secOfDay / 3600)):\(two(secOfDay / 60 % 60)):\(two(secOfDay % 60)).\(fraction)Z"
    }

    /// Civil-from-days (Howard Hinnant's algorithm): the date of a day since 1970-01-01.
    private static func civil(dayNumber: Int64) -> (year: Int, month: Int, day: Int) {
        let z = dayNumber + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// The current `Date` value of one core, reformatted only when the second changes.
/// Not `Sendable`: one per core.
public final class HTTPDateCache {
    private let wallClock: () -> Int64
    private var cachedSecond: Int64 = -1
    private var cached = ""

    /// - Parameter wallClock: seconds since the Unix epoch (the server passes `time(nil)`;
    ///   tests pass a fixed value).
    public init(wallClock: @escaping () -> Int64) { self.wallClock = wallClock }

    /// The `Date` field value for now.
    public var current: String {
        let now = wallClock()
        if now != cachedSecond {
            cachedSecond = now
            cached = HTTPDate.format(epochSeconds: now)
        }
        return cached
    }
}
