//! LOC (RFC 1876): a position on the globe, read from presentation form into its wire encoding
//! (thousandths of an arcsecond, centimetres, sizes as one digit times a power of ten), which
//! decides what two values mean the same place. Printed the way BIND prints it, and the way
//! PowerDNS does, which the PowerDNS API insists on.

use super::Reading;

/// The wire value of the equator and the prime meridian.
const ZERO: i64 = 1 << 31;
/// Altitudes are stored from 100,000 m below the reference spheroid.
const BASE_CM: i64 = 10_000_000;
/// The highest altitude PowerDNS prints as written: it reads the stored value as a signed 32-bit
/// number.
const MAX_ALTITUDE_CM: i64 = i32::MAX as i64 - BASE_CM;
const MS_PER_DEGREE: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    latitude: u32,
    longitude: u32,
    altitude: u32,
    size: u8,
    horizontal: u8,
    vertical: u8,
}

/// One coordinate as its parts, for providers that store them apart (Cloudflare).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Angle {
    pub degrees: u32,
    pub minutes: u32,
    pub seconds: f64,
    pub direction: char,
}

impl Loc {
    pub fn parse(value: &str, reading: Reading) -> Result<Self, String> {
        let tokens: Vec<&str> = value.split_whitespace().collect();
        let (latitude, rest) = coordinate(&tokens, Axis::Latitude, reading)?;
        let (longitude, rest) = coordinate(rest, Axis::Longitude, reading)?;
        let [altitude, sizes @ ..] = rest else {
            return Err("the altitude is missing after the longitude".to_string());
        };
        if sizes.len() > 3 {
            return Err(format!(
                "it has {} fields after the altitude; at most 3 (size, horizontal and vertical precision)",
                sizes.len()
            ));
        }
        let altitude_cm = centimetres(altitude, "altitude", true, reading)?;
        if !(-BASE_CM..=MAX_ALTITUDE_CM).contains(&altitude_cm) {
            return Err(format!(
                "the altitude `{altitude}` is outside -100000.00m to {}.{:02}m (the most PowerDNS stores)",
                MAX_ALTITUDE_CM / 100,
                MAX_ALTITUDE_CM % 100
            ));
        }
        // RFC 1876's defaults: a 1 m sphere, 10 km horizontal and 10 m vertical precision.
        let defaults = ["1m", "10000m", "10m"];
        let names = ["size", "horizontal precision", "vertical precision"];
        let mut encoded = [0u8; 3];
        for (index, slot) in encoded.iter_mut().enumerate() {
            let text = sizes.get(index).copied().unwrap_or(defaults[index]);
            *slot = precision(text, names[index], reading)?;
        }
        Ok(Self {
            latitude,
            longitude,
            altitude: (altitude_cm + BASE_CM) as u32,
            size: encoded[0],
            horizontal: encoded[1],
            vertical: encoded[2],
        })
    }

    pub fn latitude(&self) -> Angle {
        angle(self.latitude, ['N', 'S'])
    }

    pub fn longitude(&self) -> Angle {
        angle(self.longitude, ['E', 'W'])
    }

    /// Metres above the reference spheroid.
    pub fn altitude(&self) -> f64 {
        (i64::from(self.altitude) - BASE_CM) as f64 / 100.0
    }

    /// Size, horizontal and vertical precision in metres.
    pub fn sizes(&self) -> [f64; 3] {
        [self.size, self.horizontal, self.vertical].map(|encoded| metres(encoded) as f64 / 100.0)
    }

    /// The form PowerDNS prints and its API requires, byte for byte: computed in floating point
    /// as PowerDNS does (`LOCRecordContent::getZoneRepresentation`), so a whole minute can come
    /// out as the minute before and 60.000 seconds, and the equator as `S`.
    pub fn powerdns(&self) -> String {
        let degrees = |wire: u32| f64::from(wire.wrapping_sub(1 << 31) as i32) / 3_600_000.0;
        let (latitude, longitude) = (degrees(self.latitude), degrees(self.longitude));
        let altitude = f64::from(self.altitude as i32) / 100.0 - 100_000.0;
        let size = |encoded: u8| {
            let mut value = 0.01 * f64::from((encoded >> 4) & 0xf);
            for _ in 0..(encoded & 0xf) {
                value *= 10.0;
            }
            value
        };
        let parts = |value: f64| {
            let whole = f64::from(value as i32);
            let remainder = 60.0 * (value - whole);
            (
                (value as i32).abs(),
                (((value - whole) * 60.0) as i32).abs(),
                ((remainder - f64::from(remainder as i32)) * 60.0).abs(),
            )
        };
        let (lat_d, lat_m, lat_s) = parts(latitude);
        let (long_d, long_m, long_s) = parts(longitude);
        format!(
            "{lat_d} {lat_m} {lat_s:.3} {} {long_d} {long_m} {long_s:.3} {} {altitude:.2}m {:.2}m {:.2}m {:.2}m",
            if latitude > 0.0 { 'N' } else { 'S' },
            if longitude > 0.0 { 'E' } else { 'W' },
            size(self.size),
            size(self.horizontal),
            size(self.vertical)
        )
    }
}

impl std::fmt::Display for Loc {
    /// `52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m`: exact, from the wire values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let coordinate = |wire: u32, directions: [char; 2]| {
            let offset = i64::from(wire) - ZERO;
            let direction = if offset >= 0 {
                directions[0]
            } else {
                directions[1]
            };
            let ms = offset.abs();
            format!(
                "{} {} {}.{:03} {direction}",
                ms / MS_PER_DEGREE,
                ms % MS_PER_DEGREE / 60_000,
                ms % 60_000 / 1000,
                ms % 1000
            )
        };
        let altitude = i64::from(self.altitude) - BASE_CM;
        let sign = if altitude < 0 { "-" } else { "" };
        let [size, horizontal, vertical] =
            [self.size, self.horizontal, self.vertical].map(|encoded| {
                let cm = metres(encoded);
                format!("{}.{:02}m", cm / 100, cm % 100)
            });
        write!(
            f,
            "{} {} {sign}{}.{:02}m {size} {horizontal} {vertical}",
            coordinate(self.latitude, ['N', 'S']),
            coordinate(self.longitude, ['E', 'W']),
            altitude.abs() / 100,
            altitude.abs() % 100
        )
    }
}

#[derive(Clone, Copy)]
enum Axis {
    Latitude,
    Longitude,
}

impl Axis {
    fn name(self) -> &'static str {
        match self {
            Self::Latitude => "latitude",
            Self::Longitude => "longitude",
        }
    }

    fn directions(self) -> [char; 2] {
        match self {
            Self::Latitude => ['N', 'S'],
            Self::Longitude => ['E', 'W'],
        }
    }

    fn max_degrees(self) -> i64 {
        match self {
            Self::Latitude => 90,
            Self::Longitude => 180,
        }
    }
}

/// `D [M [S]] DIRECTION` at the start of `tokens`: the wire value and the tokens after it.
fn coordinate<'t>(
    tokens: &'t [&'t str],
    axis: Axis,
    reading: Reading,
) -> Result<(u32, &'t [&'t str]), String> {
    let [positive, negative] = axis.directions();
    let name = axis.name();
    let at = tokens
        .iter()
        .take(4)
        .position(|token| {
            token.len() == 1 && token.eq_ignore_ascii_case(&positive.to_string())
                || token.len() == 1 && token.eq_ignore_ascii_case(&negative.to_string())
        })
        .filter(|&at| at >= 1)
        .ok_or_else(|| {
            format!("the {name} is 1 to 3 numbers (degrees, minutes, seconds) then {positive} or {negative}")
        })?;
    let numbers = &tokens[..at];
    let degrees = whole(numbers[0], &format!("{name} degrees"), axis.max_degrees())?;
    let minutes = numbers
        .get(1)
        .map_or(Ok(0), |text| whole(text, &format!("{name} minutes"), 59))?;
    let most_ms = if reading == Reading::Lenient {
        60_000
    } else {
        59_999
    };
    let ms = match numbers.get(2) {
        Some(text) => fixed(text, 3, reading)
            .filter(|ms| (0..=most_ms).contains(ms))
            .ok_or_else(|| format!("the {name} seconds `{text}` are not 0 to 59.999"))?,
        None => 0,
    };
    let total = (degrees * 60 + minutes) * 60_000 + ms;
    if total > axis.max_degrees() * MS_PER_DEGREE {
        return Err(format!(
            "the {name} is more than {} degrees",
            axis.max_degrees()
        ));
    }
    let south_or_west = tokens[at].eq_ignore_ascii_case(&negative.to_string());
    let wire = if south_or_west {
        ZERO - total
    } else {
        ZERO + total
    };
    Ok((wire as u32, &tokens[at + 1..]))
}

fn whole(text: &str, what: &str, max: i64) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|value| (0..=max).contains(value) && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("the {what} `{text}` are not a whole number from 0 to {max}"))
}

/// A decimal with at most `decimals` digits after the point, scaled to an integer (`52.1` with 3
/// decimals is 52100). Read leniently, further digits are rounded.
fn fixed(text: &str, decimals: u32, reading: Reading) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || whole.len() > 12 {
        return None;
    }
    if unsigned.contains('.') && fraction.is_empty() {
        return None;
    }
    let scale = 10_i64.pow(decimals);
    let mut value = whole.parse::<i64>().ok()? * scale;
    let kept = &fraction[..fraction.len().min(decimals as usize)];
    let dropped = &fraction[kept.len()..];
    if !dropped.is_empty() && reading == Reading::Strict {
        return None;
    }
    if !kept.is_empty() {
        value += kept.parse::<i64>().ok()? * 10_i64.pow(decimals - kept.len() as u32);
    }
    if dropped.bytes().next().is_some_and(|b| b >= b'5') {
        value += 1;
    }
    Some(if negative { -value } else { value })
}

/// `20m`, `-2.5m` or `10` in centimetres.
fn centimetres(text: &str, what: &str, signed: bool, reading: Reading) -> Result<i64, String> {
    let number = text.strip_suffix(['m', 'M']).unwrap_or(text);
    fixed(number, 2, reading)
        .filter(|cm| signed || *cm >= 0)
        .ok_or_else(|| {
            format!("the {what} `{text}` is not a length in metres with at most 2 decimals, e.g. `10m` or `1.25m`")
        })
}

/// A size or precision in its one-byte form: a digit times a power of ten centimetres, rounded
/// down as RFC 1876's reference code does (`1.5m` is stored as `1m`).
fn precision(text: &str, what: &str, reading: Reading) -> Result<u8, String> {
    let cm = centimetres(text, what, false, reading)?;
    if cm > i64::from(u32::MAX) {
        return Err(format!(
            "the {what} `{text}` is more than 42949672.95m (the most PowerDNS stores)"
        ));
    }
    let mut exponent = 0;
    while exponent < 9 && cm >= 10_i64.pow(exponent + 1) {
        exponent += 1;
    }
    let mantissa = (cm / 10_i64.pow(exponent)).min(9);
    Ok(((mantissa as u8) << 4) | exponent as u8)
}

/// An encoded size or precision in centimetres.
fn metres(encoded: u8) -> u64 {
    u64::from((encoded >> 4) & 0xf) * 10_u64.pow(u32::from(encoded & 0xf))
}

fn angle(wire: u32, directions: [char; 2]) -> Angle {
    let offset = i64::from(wire) - ZERO;
    let ms = offset.abs();
    Angle {
        degrees: (ms / MS_PER_DEGREE) as u32,
        minutes: (ms % MS_PER_DEGREE / 60_000) as u32,
        seconds: (ms % 60_000) as f64 / 1000.0,
        direction: if offset >= 0 {
            directions[0]
        } else {
            directions[1]
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Result<String, String> {
        Loc::parse(text, Reading::Strict).map(|loc| loc.to_string())
    }

    #[test]
    fn short_forms_take_the_rfc_defaults() {
        assert_eq!(
            canonical("52 22 N 4 53 E -2m"),
            Ok("52 22 0.000 N 4 53 0.000 E -2.00m 1.00m 10000.00m 10.00m".into())
        );
        assert_eq!(
            canonical("31 58 52.1 S 115 49 11.7 E 20m 10m 10m 2m"),
            Ok("31 58 52.100 S 115 49 11.700 E 20.00m 10.00m 10.00m 2.00m".into())
        );
    }

    #[test]
    fn sizes_are_a_digit_times_a_power_of_ten() {
        assert_eq!(
            canonical("0 0 0 N 0 0 0 E 0m 1.5m 12345m 0.3m"),
            Ok("0 0 0.000 N 0 0 0.000 E 0.00m 1.00m 10000.00m 0.30m".into())
        );
    }

    #[test]
    fn ranges_are_checked() {
        assert!(canonical("91 0 0 N 0 0 0 E 0m").is_err());
        assert!(canonical("90 0 0.001 N 0 0 0 E 0m").is_err());
        assert!(canonical("0 60 0 N 0 0 0 E 0m").is_err());
        assert!(canonical("0 0 60 N 0 0 0 E 0m").is_err());
        assert!(canonical("0 0 1.2345 N 0 0 0 E 0m").is_err());
        assert!(canonical("0 0 0 N 181 0 0 E 0m").is_err());
        assert!(canonical("0 0 0 N 0 0 0 E").is_err());
        assert!(canonical("0 0 0 X 0 0 0 E 0m").is_err());
        assert!(canonical("0 0 0 N 0 0 0 E -100000.01m").is_err());
        assert!(canonical("0 0 0 N 0 0 0 E 21374836.48m").is_err());
        assert!(canonical("0 0 0 N 0 0 0 E 0m 42949672.96m").is_err());
        assert!(canonical("0 0 0 N 0 0 0 E 0m 1m 1m 1m 1m").is_err());
    }

    /// What PowerDNS 4.7 answered for these values (its API refuses any other spelling).
    #[test]
    fn powerdns_form_is_powerdns_own() -> Result<(), String> {
        let cases = [
            (
                "53 14 0.000 N 2 18 0.000 W 20.00m 10.00m 1000.00m 2.00m",
                "53 14 0.000 N 2 17 60.000 W 20.00m 10.00m 1000.00m 2.00m",
            ),
            (
                "0 0 0.000 N 0 0 0.000 E 0.00m 1.00m 10000.00m 10.00m",
                "0 0 0.000 S 0 0 0.000 W 0.00m 1.00m 10000.00m 10.00m",
            ),
            (
                "31 58 52.1 S 115 49 11.7 E 20m 10m 10m 2m",
                "31 58 52.100 S 115 49 11.700 E 20.00m 10.00m 10.00m 2.00m",
            ),
            (
                "1 2 3.456 S 7 8 9.999 E -100000.00m 0.01m 0.09m 0.10m",
                "1 2 3.456 S 7 8 9.999 E -100000.00m 0.01m 0.09m 0.10m",
            ),
        ];
        for (value, powerdns) in cases {
            let loc = Loc::parse(value, Reading::Strict)?;
            assert_eq!(loc.powerdns(), powerdns);
            // Read back leniently, PowerDNS's form is the same place.
            assert_eq!(Loc::parse(powerdns, Reading::Lenient)?, loc);
        }
        Ok(())
    }
}
