import CyberdeskAPI
import Desktop
import Testing

@testable import Agent

@Suite("Coordinate scaling from the trajectory's dimensions to the screen")
struct CoordinateScalerTests {
    @Test("1024x768 to 1920x1080: each recorded pixel maps to the screen pixel under its centre")
    func proportional() {
        let scaler = CoordinateScaler(
            recorded: DisplaySize(width: 1024, height: 768), screen: Size(width: 1920, height: 1080))
        #expect(scaler.scaleX == 1.875)
        #expect(scaler.scaleY == 1.40625)
        #expect(scaler.point(x: 0, y: 0) == Point(x: 0, y: 0))
        #expect(scaler.point(x: 512, y: 384) == Point(x: 960, y: 540))
        #expect(scaler.point(x: 1023, y: 767) == Point(x: 1919, y: 1079))
        #expect(scaler.point(x: 1024, y: 768) == Point(x: 1920, y: 1080), "outside stays outside")
    }

    @Test("same size, or no recorded dimensions: coordinates are screen pixels")
    func identity() {
        let screen = Size(width: 1280, height: 800)
        for recorded in [DisplaySize(width: 1280, height: 800), nil, DisplaySize(width: 0, height: 0)] {
            let scaler = CoordinateScaler(recorded: recorded, screen: screen)
            #expect(scaler.isIdentity)
            #expect(scaler.point(x: 321, y: 123) == Point(x: 321, y: 123))
            #expect(scaler.point(x: 0, y: 799) == Point(x: 0, y: 799))
        }
    }

    @Test("a smaller screen")
    func downscale() {
        let scaler = CoordinateScaler(
            recorded: DisplaySize(width: 1920, height: 1080), screen: Size(width: 1280, height: 720))
        #expect(scaler.point(x: 960, y: 540) == Point(x: 640, y: 360))
        #expect(scaler.point(x: 1919, y: 1079) == Point(x: 1279, y: 719))
    }
}
