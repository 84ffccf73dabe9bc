import Foundation

/// The Cloudflare location hints, each placed at a representative city.
public enum Region: String, Sendable, Hashable, CaseIterable {
    /// Western North America (San Francisco).
    case wnam
    /// Eastern North America (New York).
    case enam
    /// Western Europe (London).
    case weur
    /// Eastern Europe (Warsaw).
    case eeur
    /// Asia-Pacific (Singapore).
    case apac
    /// Oceania (Sydney).
    case oc
    /// Middle East (Dubai).
    case me
    /// Africa (Johannesburg).
    case af

    /// Latitude and longitude in degrees.
    public var coordinates: (latitude: Double, longitude: Double) {
        switch self {
        case .wnam: return (37.7749, -122.4194)
        case .enam: return (40.7128, -74.0060)
        case .weur: return (51.5074, -0.1278)
        case .eeur: return (52.2297, 21.0122)
        case .apac: return (1.3521, 103.8198)
        case .oc: return (-33.8688, 151.2093)
        case .me: return (25.2048, 55.2708)
        case .af: return (-26.2041, 28.0473)
        }
    }

    /// Great-circle (haversine) distance to `other`, in kilometres.
    public func distance(to other: Region) -> Double {
        let earthRadius = 6371.0
        let (lat1, lon1) = coordinates
        let (lat2, lon2) = other.coordinates
        let dLat = (lat2 - lat1) * .pi / 180
        let dLon = (lon2 - lon1) * .pi / 180
        let a =
            sin(dLat / 2) * sin(dLat / 2)
            + cos(lat1 * .pi / 180) * cos(lat2 * .pi / 180) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * earthRadius * atan2(sqrt(a), sqrt(1 - a))
    }
}
