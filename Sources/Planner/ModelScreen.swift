import CyberdeskAPI

extension ModelEndpoint {
    /// The longest side of the screenshots sent to a model when `additional_params` does not say
    /// (`max_image_long_side`): what the providers recommend for computer use (larger images are
    /// downscaled by the provider anyway, costing tokens and precision of the coordinates).
    public static let defaultMaxImageLongSide = 1280

    /// `additional_params.max_image_long_side` (a number or a numeric string), else 1280.
    public static func screenshotLongSide(_ additionalParams: JSONObject) -> Int {
        if let value = additionalParams["max_image_long_side"] {
            let number = value.doubleValue ?? value.stringValue.flatMap { Double($0) }
            if let number, number.isFinite, number >= 1, number < 1_000_000 { return Int(number) }
        }
        return defaultMaxImageLongSide
    }

    /// This configuration's ``screenshotLongSide(_:)``: the machine fits its screenshots to it.
    public var screenshotLongSide: Int { Self.screenshotLongSide(additionalParams) }

    /// The size the screenshots of a `native` screen are sent at: fitted to the long side,
    /// aspect preserved, never upscaled (``DisplaySize/fitting(longSide:)``, the rule the
    /// machine captures with). The computer tool declares exactly this size.
    public static func modelScreen(for native: DisplaySize, additionalParams: JSONObject) -> DisplaySize {
        native.fitting(longSide: screenshotLongSide(additionalParams))
    }

    /// This configuration's screenshot size for a `native` screen.
    public func modelScreen(for native: DisplaySize) -> DisplaySize {
        Self.modelScreen(for: native, additionalParams: additionalParams)
    }

    /// `additional_params.coordinate_space`: `pixels` unless it says `normalized_1000`. An
    /// unknown value is refused by ``checkAdditionalParams()`` before any call is made.
    public var coordinateSpace: CoordinateSpace {
        additionalParams["coordinate_space"]?.stringValue.flatMap(CoordinateSpace.init(rawValue:)) ?? .pixels
    }

    /// `.invalidConfiguration` for `additional_params` that would otherwise be misread silently:
    /// a `coordinate_space` that is neither `pixels` nor `normalized_1000` (every click would
    /// land in the wrong place), a `max_image_long_side` that is not a positive number.
    /// The adapters check before each call; the API can call it when a configuration is saved.
    public func checkAdditionalParams() throws(ModelError) {
        if let value = additionalParams["coordinate_space"], value != .null {
            guard let text = value.stringValue, CoordinateSpace(rawValue: text) != nil else {
                throw .invalidConfiguration(
                    configuration: name,
                    detail: "additional_params.coordinate_space \(value.compactJSON.prefix(60)) is not "
                        + "\"pixels\" or \"normalized_1000\"")
            }
        }
        if let value = additionalParams["max_image_long_side"], value != .null {
            let number = value.doubleValue ?? value.stringValue.flatMap { Double($0) }
            guard let number, number.isFinite, number >= 64 else {
                throw .invalidConfiguration(
                    configuration: name,
                    detail: "additional_params.max_image_long_side \(value.compactJSON.prefix(60)) is not a number of "
                        + "pixels (64 or more)")
            }
        }
    }

    /// A `computer` tool call's input read with this configuration's coordinate space, its
    /// errors naming this configuration.
    public func computerAction(_ input: JSONObject, screen: DisplaySize) throws(ModelError) -> ComputerAction {
        try ComputerAction.parse(input, screen: screen, space: coordinateSpace, configuration: name)
    }
}
