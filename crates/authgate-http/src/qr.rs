//! QR codes of `otpauth://` URIs as self-contained `data:image/png` URLs: an
//! `<img src>` loads one directly and nothing is stored server-side (the
//! CognitoApi profile's `qr_code_secret_url`; the hosted pages' TOTP set-up).

use authgate_core::AuthError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The QR code of `uri` (error correction M, 4 px modules, a quiet zone) as a
/// `data:image/png;base64,…` URL.
pub fn data_url(uri: &str) -> Result<String, AuthError> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AuthError::Internal(format!("QR code: {e}")))?;
    let image = code
        .render::<image::Luma<u8>>()
        .module_dimensions(4, 4)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| AuthError::Internal(format!("QR image: {e}")))?;
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(png)))
}
