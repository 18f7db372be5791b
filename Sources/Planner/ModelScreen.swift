import CyberdeskAPI

extension ModelEndpoint {
    /// The longest side of the screenshots sent to a model when `additional_params` does not say
    /// (`max_image_long_side`): what the providers recommend for computer use (larger images are
    /// downscaled by the provider anyway, costing tokens and precision of the coordinates).
    public static let defaultMaxImageLongSide = 1280

    /// `additional_params.max_image_long_side` (a number or a numeric string), else 1280. The
    /// machine fits its screenshots to it (``DisplaySize/fitting(longSide:)``), and the computer
    /// tool declares the fitted size.
    public var screenshotLongSide: Int {
        if let value = additionalParams["max_image_long_side"] {
            let number = value.doubleValue ?? value.stringValue.flatMap { Double($0) }
            if let number, number.isFinite, number >= 1, number < 1_000_000 { return Int(number) }
        }
        return Self.defaultMaxImageLongSide
    }

    /// `additional_params.coordinate_space`: `pixels` unless it says `normalized_1000`.
    public var coordinateSpace: CoordinateSpace {
        additionalParams["coordinate_space"]?.stringValue.flatMap(CoordinateSpace.init(rawValue:)) ?? .pixels
    }
}
