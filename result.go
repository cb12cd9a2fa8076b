package mist

import (
	"net"
	"strconv"
)

// Result is a Steam EResult code, as returned by the calls that return an
// EResult in the C++ API. It implements error so results compose with the
// errors package; OK is not an error, use [Result.Err] to get nil for it.
type Result int32

// EResult values that connection calls return.
const (
	ResultNone             Result = 0
	ResultOK               Result = 1
	ResultFail             Result = 2
	ResultNoConnection     Result = 3
	ResultInvalidParam     Result = 8
	ResultInvalidState     Result = 11
	ResultLimitExceeded    Result = 25
	ResultDuplicateRequest Result = 29
	ResultIPNotFound       Result = 31
	ResultHandshakeFailed  Result = 36
	ResultIgnored          Result = 41
)

// resultNames are the EResult names without their prefix, indexed by value,
// exactly as luasteam prints them (value 4 keeps its obsolete name).
var resultNames = [...]string{
	"None", "OK", "Fail", "NoConnection", "NoConnectionRetry", "InvalidPassword",
	"LoggedInElsewhere", "InvalidProtocolVer", "InvalidParam", "FileNotFound", "Busy",
	"InvalidState", "InvalidName", "InvalidEmail", "DuplicateName", "AccessDenied",
	"Timeout", "Banned", "AccountNotFound", "InvalidSteamID", "ServiceUnavailable",
	"NotLoggedOn", "Pending", "EncryptionFailure", "InsufficientPrivilege",
	"LimitExceeded", "Revoked", "Expired", "AlreadyRedeemed", "DuplicateRequest",
	"AlreadyOwned", "IPNotFound", "PersistFailed", "LockingFailed",
	"LogonSessionReplaced", "ConnectFailed", "HandshakeFailed", "IOFailure",
	"RemoteDisconnect", "ShoppingCartNotFound", "Blocked", "Ignored", "NoMatch",
	"AccountDisabled", "ServiceReadOnly", "AccountNotFeatured", "AdministratorOK",
	"ContentVersion", "TryAnotherCM", "PasswordRequiredToKickSession",
	"AlreadyLoggedInElsewhere", "Suspended", "Cancelled", "DataCorruption", "DiskFull",
	"RemoteCallFailed", "PasswordUnset", "ExternalAccountUnlinked", "PSNTicketInvalid",
	"ExternalAccountAlreadyLinked", "RemoteFileConflict", "IllegalPassword",
	"SameAsPreviousValue", "AccountLogonDenied", "CannotUseOldPassword",
	"InvalidLoginAuthCode", "AccountLogonDeniedNoMail", "HardwareNotCapableOfIPT",
	"IPTInitError", "ParentalControlRestricted", "FacebookQueryError",
	"ExpiredLoginAuthCode", "IPLoginRestrictionFailed", "AccountLockedDown",
	"AccountLogonDeniedVerifiedEmailRequired", "NoMatchingURL", "BadResponse",
	"RequirePasswordReEntry", "ValueOutOfRange", "UnexpectedError", "Disabled",
	"InvalidCEGSubmission", "RestrictedDevice", "RegionLocked", "RateLimitExceeded",
	"AccountLoginDeniedNeedTwoFactor", "ItemDeleted", "AccountLoginDeniedThrottle",
	"TwoFactorCodeMismatch", "TwoFactorActivationCodeMismatch",
	"AccountAssociatedToMultiplePartners", "NotModified", "NoMobileDevice",
	"TimeNotSynced", "SmsCodeFailed", "AccountLimitExceeded",
	"AccountActivityLimitExceeded", "PhoneActivityLimitExceeded", "RefundToWallet",
	"EmailSendFailure", "NotSettled", "NeedCaptcha", "GSLTDenied", "GSOwnerDenied",
	"InvalidItemType", "IPBanned", "GSLTExpired", "InsufficientFunds", "TooManyPending",
	"NoSiteLicensesFound", "WGNetworkSendExceeded", "AccountNotFriends",
	"LimitedUserAccount", "CantRemoveItem", "AccountDeleted",
	"ExistingUserCancelledLicense", "CommunityCooldown", "NoLauncherSpecified",
	"MustAgreeToSSA", "LauncherMigrated", "SteamRealmMismatch", "InvalidSignature",
	"ParseFailure", "NoVerifiedPhone", "InsufficientBattery", "ChargerRequired",
	"CachedCredentialInvalid", "PhoneNumberIsVOIP",
}

// String returns the EResult name as luasteam spells it ("OK",
// "InvalidParam", ...), or the number for values outside the table.
func (r Result) String() string {
	if r >= 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Error implements error; it is the bare name so that results print the
// same whether formatted as errors or as values.
func (r Result) Error() string { return r.String() }

// Err returns nil for OK and r otherwise.
func (r Result) Err() error {
	if r == ResultOK {
		return nil
	}
	return r
}

// Is makes errors.Is(err, net.ErrClosed) hold for NoConnection: the
// connection exists but has ended.
func (r Result) Is(target error) bool {
	return target == net.ErrClosed && r == ResultNoConnection
}
