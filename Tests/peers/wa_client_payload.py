"""Builds the ClientPayload whatsmeow would send (store/clientpayload.go, commit 33cfac51) with
neonize's generated protobuf modules, so the Swift encoder can be compared byte for byte.

stdin: JSON with hex strings; stdout: {"payload": hex}.
"""
import hashlib
import json
import sys

from wa_protos import companion_reg, wa6

CP = wa6.ClientPayload


def base(request: dict) -> "CP":
    version = request["version"]
    return CP(
        userAgent=CP.UserAgent(
            platform=CP.UserAgent.WEB,
            releaseChannel=CP.UserAgent.RELEASE,
            appVersion=CP.UserAgent.AppVersion(primary=version[0], secondary=version[1], tertiary=version[2]),
            mcc="000",
            mnc="000",
            osVersion="0.1",
            manufacturer="",
            device="Desktop",
            osBuildNumber="0.1",
            localeLanguageIso6391="en",
            localeCountryIso31661Alpha2="US",
        ),
        webInfo=CP.WebInfo(webSubPlatform=CP.WebInfo.WEB_BROWSER),
        connectType=CP.WIFI_UNKNOWN,
        connectReason=CP.USER_ACTIVATED,
    )


def device_props(request: dict) -> bytes:
    os_version = request["osVersion"]
    props = companion_reg.DeviceProps(
        os=request["osName"],
        version=companion_reg.DeviceProps.AppVersion(primary=os_version[0], secondary=os_version[1], tertiary=os_version[2]),
        platformType=request["platform"],
        requireFullSync=False,
        historySyncConfig=companion_reg.DeviceProps.HistorySyncConfig(
            storageQuotaMb=10240,
            inlineInitialPayloadInE2EeMsg=True,
            supportCallLogHistory=True,
            supportBotUserAgentChatHistory=True,
            supportCagReactionsAndPolls=True,
            supportBizHostedMsg=True,
            supportRecentSyncChunkMessageCountTuning=True,
            supportHostedGroupMsg=True,
            supportFbidBotChatHistory=True,
            supportMessageAssociation=True,
            supportGroupHistory=True,
            thumbnailSyncDaysLimit=60,
            supportManusHistory=True,
            supportHatchHistory=True,
        ),
    )
    return props.SerializeToString()


def main() -> None:
    request = json.load(sys.stdin)
    payload = base(request)
    if request["mode"] == "registration":
        version = ".".join(str(part) for part in request["version"])
        payload.devicePairingData.CopyFrom(CP.DevicePairingRegistrationData(
            eRegid=request["registrationID"].to_bytes(4, "big"),
            eKeytype=b"\x05",
            eIdent=bytes.fromhex(request["identityKey"]),
            eSkeyID=request["signedPreKeyID"].to_bytes(4, "big")[1:],
            eSkeyVal=bytes.fromhex(request["signedPreKey"]),
            eSkeySig=bytes.fromhex(request["signedPreKeySignature"]),
            buildHash=hashlib.md5(version.encode()).digest(),
            deviceProps=device_props(request),
        ))
        payload.passive = False
        payload.pull = False
    else:
        payload.username = int(request["user"])
        payload.device = request["device"]
        payload.passive = True
        payload.pull = True
        payload.lidDbMigrated = True
        payload.lc = 1
    json.dump({"payload": payload.SerializeToString().hex()}, sys.stdout)


if __name__ == "__main__":
    main()
