//! The Diameter words ratel reads and writes: command codes, AVP codes (RFC 6733, RFC 4006,
//! 3GPP TS 32.299) and result codes. docs/online.md lists each with where it is used.

/// 3GPP's vendor id, for the AVPs of TS 32.299.
pub const VENDOR_3GPP: u32 = 10415;
/// The Diameter Credit-Control Application (RFC 4006).
pub const APPLICATION_CREDIT_CONTROL: u32 = 4;

pub const COMMAND_CAPABILITIES_EXCHANGE: u32 = 257;
pub const COMMAND_DEVICE_WATCHDOG: u32 = 280;
pub const COMMAND_DISCONNECT_PEER: u32 = 282;
pub const COMMAND_CREDIT_CONTROL: u32 = 272;

// RFC 6733 base.
pub const HOST_IP_ADDRESS: u32 = 257;
pub const AUTH_APPLICATION_ID: u32 = 258;
pub const VENDOR_ID: u32 = 266;
pub const FIRMWARE_REVISION: u32 = 267;
pub const RESULT_CODE: u32 = 268;
pub const PRODUCT_NAME: u32 = 269;
pub const DISCONNECT_CAUSE: u32 = 273;
pub const SESSION_ID: u32 = 263;
pub const ORIGIN_HOST: u32 = 264;
pub const ORIGIN_REALM: u32 = 296;
pub const ORIGIN_STATE_ID: u32 = 278;
pub const ERROR_MESSAGE: u32 = 281;
pub const REDIRECT_HOST: u32 = 292;
pub const REDIRECT_HOST_USAGE: u32 = 261;
pub const REDIRECT_MAX_CACHE_TIME: u32 = 262;
pub const EVENT_TIMESTAMP: u32 = 55;
pub const CALLED_STATION_ID: u32 = 30;

// RFC 4006 credit control.
pub const CC_REQUEST_NUMBER: u32 = 415;
pub const CC_REQUEST_TYPE: u32 = 416;
pub const CC_SERVICE_SPECIFIC_UNITS: u32 = 417;
pub const CC_TIME: u32 = 420;
pub const CC_TOTAL_OCTETS: u32 = 421;
pub const CHECK_BALANCE_RESULT: u32 = 422;
pub const COST_INFORMATION: u32 = 423;
pub const CURRENCY_CODE: u32 = 425;
pub const EXPONENT: u32 = 429;
pub const UNIT_VALUE: u32 = 445;
pub const VALUE_DIGITS: u32 = 447;
pub const FINAL_UNIT_INDICATION: u32 = 430;
pub const GRANTED_SERVICE_UNIT: u32 = 431;
pub const RATING_GROUP: u32 = 432;
pub const REDIRECT_ADDRESS_TYPE: u32 = 433;
pub const REDIRECT_SERVER: u32 = 434;
pub const REDIRECT_SERVER_ADDRESS: u32 = 435;
pub const REQUESTED_ACTION: u32 = 436;
pub const REQUESTED_SERVICE_UNIT: u32 = 437;
pub const SERVICE_IDENTIFIER: u32 = 439;
pub const SUBSCRIPTION_ID: u32 = 443;
pub const SUBSCRIPTION_ID_DATA: u32 = 444;
pub const USED_SERVICE_UNIT: u32 = 446;
pub const VALIDITY_TIME: u32 = 448;
pub const FINAL_UNIT_ACTION: u32 = 449;
pub const SUBSCRIPTION_ID_TYPE: u32 = 450;
pub const MULTIPLE_SERVICES_CREDIT_CONTROL: u32 = 456;
pub const SERVICE_CONTEXT_ID: u32 = 461;

// 3GPP TS 32.299 (vendor 10415).
pub const CALLED_PARTY_ADDRESS: u32 = 832;
pub const SERVICE_INFORMATION: u32 = 873;
pub const IMS_INFORMATION: u32 = 876;
pub const REFUND_INFORMATION: u32 = 2022;

// CC-Request-Type.
pub const INITIAL_REQUEST: u32 = 1;
pub const UPDATE_REQUEST: u32 = 2;
pub const TERMINATION_REQUEST: u32 = 3;
pub const EVENT_REQUEST: u32 = 4;

// Requested-Action.
pub const DIRECT_DEBITING: u32 = 0;
pub const REFUND_ACCOUNT: u32 = 1;
pub const CHECK_BALANCE: u32 = 2;
pub const PRICE_ENQUIRY: u32 = 3;

pub const END_USER_E164: u32 = 0;
pub const FINAL_UNIT_TERMINATE: u32 = 0;
pub const FINAL_UNIT_REDIRECT: u32 = 1;
pub const REDIRECT_ADDRESS_URL: u32 = 2;
/// Redirect-Host-Usage ALL_SESSION: the session's later requests go to the host named.
pub const REDIRECT_ALL_SESSION: u32 = 1;
/// Redirect-Host-Usage ALL_USER: every session of the user goes to the host named.
pub const REDIRECT_ALL_USER: u32 = 6;

// Service-Context-Id of each service.
pub const CONTEXT_VOICE: &str = "32260@3gpp.org";
pub const CONTEXT_DATA: &str = "32251@3gpp.org";
pub const CONTEXT_SMS: &str = "32274@3gpp.org";

// Result-Code.
pub const SUCCESS: u32 = 2001;
pub const LIMITED_SUCCESS: u32 = 2002;
pub const REDIRECT_INDICATION: u32 = 3006;
pub const UNABLE_TO_DELIVER: u32 = 3002;
pub const TOO_BUSY: u32 = 3004;
pub const END_USER_SERVICE_DENIED: u32 = 4010;
pub const CREDIT_LIMIT_REACHED: u32 = 4012;
pub const COMMAND_UNSUPPORTED: u32 = 3001;
pub const APPLICATION_UNSUPPORTED: u32 = 3007;
pub const MISSING_AVP: u32 = 5005;
pub const INVALID_AVP_VALUE: u32 = 5004;
pub const UNKNOWN_SESSION_ID: u32 = 5002;
pub const UNABLE_TO_COMPLY: u32 = 5012;
pub const INVALID_AVP_LENGTH: u32 = 5014;
pub const NO_COMMON_APPLICATION: u32 = 5010;
pub const USER_UNKNOWN: u32 = 5030;
pub const RATING_FAILED: u32 = 5031;

/// NTP's epoch (1900) before Unix's (1970), in seconds: Diameter's Time counts from 1900.
pub const NTP_UNIX_OFFSET: i64 = 2_208_988_800;
