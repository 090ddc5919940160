"""One synthetic ben-ge patch from one underlying scene, so that the modalities carry real,
partly redundant information.

- terrain: fractal elevation (spectral synthesis, 1/f⁴ power spectrum), metres;
- land cover (ESA WorldCover codes) from terrain and climate: water in the lowest hollows,
  herbaceous wetland on flat ground just above it, towns (built-up) on flat lowland,
  cropland parcels on flat ground, forest on slopes, grassland and shrubland between, bare
  rock where steep or above the tree line, snow above the snow line, moss and lichen in the
  tundra, mangroves only on southern coasts (none north of 38°, as in Europe);
- Sentinel-2 L2A reflectance per class (``SPECTRA_BY_CLASS``) with phenology, per-parcel
  brightness and sensor noise; wetland and grassland, bare rock and built-up are close in
  S2 on purpose;
- Sentinel-1 VV/VH backscatter in dB per class (``BACKSCATTER_DB``) with soil moisture, a
  terrain-slope term and speckle (multiplicative gamma noise of 4 looks): wetland (flooded
  vegetation, double bounce) and built-up are bright in VV where grassland and bare rock
  are not, so S1 and the DEM separate what S2 confuses;
- weather (ERA-5-like: K, %, m/s) from latitude, elevation and season; the Köppen–Geiger
  climate zone (Beck et al. 2018 codes) from latitude, elevation and temperature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plantwatch.data.synthetic.landscape import smooth_noise
from plantwatch.data.synthetic.spectra import greenness

# Surface reflectance (%) in the 12 L2A bands (B01 … B12 without B10); leaf-on for vegetation.
SPECTRA_BY_CLASS: dict[int, tuple[float, ...]] = {
    #      B01  B02  B03  B04  B05  B06  B07  B08  B8A  B09  B11  B12
    10:  (  2, 2.5, 4.5, 2.5,   7,  20,  26,  28,  29,  29,  14, 6.5),  # tree cover
    20:  (  4,   5,   7,   7,  11,  18,  21,  23,  24,  24,  22,  14),  # shrubland
    30:  (  3,   4,   7,   5,  11,  24,  29,  31,  32,  32,  21,  11),  # grassland
    40:  (2.5, 3.5, 7.5,   4,  12,  30,  38,  42,  43,  42,  22,  10),  # cropland
    50:  ( 10,  11,  13,  15,  17,  18,  19,  20,  21,  21,  24,  22),  # built-up
    60:  (  9,  11,  14,  17,  19,  21,  22,  23,  24,  24,  27,  24),  # bare / sparse
    70:  ( 80,  82,  82,  80,  78,  74,  70,  66,  64,  55,   8,   6),  # snow and ice
    80:  (  6, 5.5, 4.5, 2.5, 1.8, 1.2, 0.9, 0.7, 0.6, 0.5, 0.3, 0.2),  # water
    90:  (  3,   4,   7,   5,  10,  22,  27,  29,  30,  30,  18,   9),  # herbaceous wetland
    95:  (  2,   3,   5,   3,   8,  22,  28,  30,  31,  31,  15,   7),  # mangroves
    100: (  4,   5,   7,   8,  11,  16,  19,  21,  22,  22,  20,  14),  # moss and lichen
}  # fmt: skip
# Leaf-off reflectance of vegetation: the spectrum moves this far towards bare soil in winter.
_SOIL = np.array([8, 10, 14, 18, 21, 23, 25, 27, 28, 29, 35, 30], np.float32) / 100
_PHENOLOGY = {10: 0.3, 20: 0.3, 30: 0.5, 40: 0.9, 90: 0.4, 95: 0.1, 100: 0.3}
# Sentinel-1 backscatter (dB): (VV, VH) under average moisture on flat terrain.
BACKSCATTER_DB: dict[int, tuple[float, float]] = {
    10: (-7.5, -13.5), 20: (-9.5, -16.0), 30: (-12.0, -19.5), 40: (-11.0, -17.5),
    50: (-3.0, -10.0), 60: (-13.5, -22.0), 70: (-15.0, -23.0), 80: (-22.0, -28.0),
    90: (-6.5, -15.5), 95: (-6.0, -13.0), 100: (-13.0, -20.0),
}  # fmt: skip
KELVIN = 273.15


def fractal_terrain(rng: np.random.Generator, size: int, relief_m: float) -> np.ndarray:
    """Zero-mean elevation [size, size] in m with a 1/f⁴ power spectrum and std ``relief_m``."""
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    frequency = np.hypot(fy, fx)
    amplitude = np.where(frequency > 0, frequency, np.inf) ** -2.0
    field = np.real(np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((size, size)))))
    return (relief_m * (field - field.mean()) / (field.std() + 1e-12)).astype(np.float32)


def classify(dem_m: np.ndarray, lat: float, rng: np.random.Generator) -> np.ndarray:
    """WorldCover codes uint8 [H, W] from elevation (m, 10 m pixels) and latitude."""
    grad_y, grad_x = np.gradient(dem_m, 10.0)
    slope = np.hypot(grad_y, grad_x)  # rise over run
    treeline = 2300.0 - 28.0 * (lat - 40.0)
    spread = float(dem_m.std()) + 1.0
    water_level = np.quantile(dem_m, rng.uniform(0.0, 0.12))
    parcels = smooth_noise(rng, dem_m.shape, 4.0)
    towns = smooth_noise(rng, dem_m.shape, 8.0)
    codes = np.full(dem_m.shape, 30, np.uint8)  # grassland
    codes[parcels > 0.6] = 20  # shrubland patches
    flat = slope < 0.12
    codes[flat] = np.where(parcels[flat] > -0.6, 40, 30)  # cropland parcels
    codes[slope > 0.2] = 10  # forest on slopes
    codes[flat & (towns > 1.3) & (dem_m < water_level + 1.5 * spread)] = 50
    codes[(slope < 0.06) & (dem_m > water_level) & (dem_m < water_level + 0.2 * spread)] = 90
    codes[(dem_m > treeline) | (slope > 0.9)] = 60
    if lat > 64.0:
        codes[(dem_m > treeline - 500.0) & (codes != 60)] = 100
    codes[dem_m > treeline + 700.0] = 70
    codes[dem_m <= water_level] = 80
    if lat < 38.0:
        codes[codes == 90] = 95
    return codes


def optical(codes: np.ndarray, day_of_year: int, rng: np.random.Generator) -> np.ndarray:
    """S2 L2A surface reflectance (0–1), float32 [12, H, W] at 10 m."""
    green = greenness(day_of_year)
    table = np.zeros((256, 12), np.float32)
    for code, spectrum in SPECTRA_BY_CLASS.items():
        leaf_on = np.array(spectrum, np.float32) / 100
        fade = _PHENOLOGY.get(code, 0.0) * (1.0 - green)
        table[code] = (1.0 - fade) * leaf_on + fade * _SOIL
    reflectance = table[codes].transpose(2, 0, 1)
    brightness = 1.0 + 0.08 * smooth_noise(rng, codes.shape, 3.0)
    noise = rng.normal(0.0, 0.004, reflectance.shape)
    return np.clip(reflectance * brightness + noise, 0.0, 1.5).astype(np.float32)


def radar(
    codes: np.ndarray, dem_m: np.ndarray, moisture: float, rng: np.random.Generator
) -> np.ndarray:
    """S1 backscatter in dB, float32 [2, H, W] (VV, VH)."""
    table = np.zeros((256, 2), np.float32)
    for code, (vv, vh) in BACKSCATTER_DB.items():
        table[code] = (vv, vh)
    db = table[codes].transpose(2, 0, 1)
    soil = np.isin(codes, (20, 30, 40, 60, 90, 100))
    db = db + 3.0 * (moisture - 0.5) * soil  # wetter soil, brighter return
    facing = np.gradient(dem_m, 10.0, axis=1)  # slopes facing the (east-looking) sensor
    db = db + 10.0 * np.tanh(facing)[None]
    speckle = rng.gamma(4.0, 1.0 / 4.0, db.shape)  # 4-look intensity speckle
    return (db + 10.0 * np.log10(speckle)).astype(np.float32)


def climate_zone(lat: float, elevation_m: float, mean_temperature_c: float) -> int:
    """Köppen–Geiger code (Beck et al. 2018): Csa 8, Csb 9, Cfb 15, Dfb 26, Dfc 27, ET 29."""
    if elevation_m > 2000.0 or mean_temperature_c < -2.0:
        return 29
    if lat < 42.0:
        return 8 if mean_temperature_c > 14.0 else 9
    if lat < 55.0:
        return 15
    return 26 if lat < 62.0 else 27


@dataclass
class PatchScene:
    """One patch: elevation (m) int16 [H, W], WorldCover codes uint8 [H, W], S2 reflectance
    (0–1) float32 [12, H, W], S1 dB float32 [2, H, W]; weather at the S2 and S1 times (K,
    %, m/s) and the climate-zone code (0: a patch of water only)."""

    dem_m: np.ndarray
    land_cover: np.ndarray
    reflectance: np.ndarray
    backscatter_db: np.ndarray
    weather_s2: tuple[float, float, float, float]
    weather_s1: tuple[float, float, float, float]
    climate_zone: int


def weather(lat: float, elevation_m: float, day_of_year: int, rng: np.random.Generator
            ) -> tuple[float, float, float, float]:  # fmt: skip
    """(temperature K, relative humidity %, wind u, wind v m/s) at one time."""
    annual = 25.0 - 0.45 * lat - 0.0065 * elevation_m
    seasonal = 9.0 * np.sin(2.0 * np.pi * (day_of_year - 105) / 365.0)
    temperature = annual + seasonal + rng.normal(0.0, 2.5)
    humidity = float(np.clip(75.0 - 0.8 * seasonal + rng.normal(0.0, 10.0), 15.0, 100.0))
    return (round(temperature + KELVIN, 2), round(humidity, 1),
            round(rng.normal(2.0, 3.0), 2), round(rng.normal(0.5, 3.0), 2))  # fmt: skip


def make_patch(rng: np.random.Generator, size: int, lat: float, day_of_year: int) -> PatchScene:
    """A patch at latitude ``lat`` (degrees) observed on ``day_of_year``."""
    base = rng.uniform(0.0, 1800.0) * rng.random() ** 2  # most patches low, a few alpine
    dem = base + fractal_terrain(rng, size, rng.uniform(5.0, 20.0 + base * 0.15))
    dem -= min(0.0, float(dem.min()))  # land above sea level
    codes = classify(dem, lat, rng)
    mean_elevation = float(dem.mean())
    s2 = weather(lat, mean_elevation, day_of_year, rng)
    s1 = weather(lat, mean_elevation, day_of_year + 1, rng)
    annual_c = 25.0 - 0.45 * lat - 0.0065 * mean_elevation
    zone = 0 if (codes == 80).all() else climate_zone(lat, mean_elevation, annual_c)
    moisture = float(np.clip(s2[1] / 100.0 + rng.normal(0.0, 0.1), 0.0, 1.0))
    return PatchScene(
        dem_m=np.rint(dem).astype(np.int16), land_cover=codes,
        reflectance=optical(codes, day_of_year, rng),
        backscatter_db=radar(codes, dem, moisture, rng),
        weather_s2=s2, weather_s1=s1, climate_zone=zone,
    )  # fmt: skip
